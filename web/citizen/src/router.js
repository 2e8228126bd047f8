import { createRouter, createWebHistory } from 'vue-router';
import Landing from './views/Landing.vue';
import { state, pageCampaign } from './lib/session.js';

// History mode: /c/{cid}?invite=… (where /r/{code} redirects) is a real path of the app, and
// WeChat signs share URLs without their #fragment. The server must answer every /c/{cid}/…
// path with index.html.
export const loaders = {
  join: () => import('./views/Join.vue'),
  quiz: () => import('./views/Quiz.vue'),
  result: () => import('./views/Result.vue'),
  share: () => import('./views/Share.vue'),
  boards: () => import('./views/Boards.vue'),
};

export const router = createRouter({
  history: createWebHistory('/'),
  routes: [
    { path: '/', redirect: () => `/c/${pageCampaign()}` },
    { path: '/c/:cid', name: 'landing', component: Landing },
    { path: '/c/:cid/join', name: 'join', component: loaders.join },
    { path: '/c/:cid/quiz', name: 'quiz', component: loaders.quiz },
    { path: '/c/:cid/result/:aid', name: 'result', component: loaders.result },
    { path: '/c/:cid/share', name: 'share', component: loaders.share },
    { path: '/c/:cid/boards', name: 'boards', component: loaders.boards },
    { path: '/:rest(.*)*', redirect: () => `/c/${pageCampaign()}` },
  ],
  scrollBehavior: () => ({ top: 0 }),
});

router.beforeEach((to) => {
  if (to.params.cid && to.params.cid !== state.cid) {
    state.cid = String(to.params.cid);
    state.campaign = null;
    state.me = null;
  }
});
