import { createApp } from 'vue';
import App from './App.vue';
import { router } from './router.js';
import { state, ensureCampaign, pageCampaign } from './lib/session.js';
import './base.css';

// Ask for the campaign while the router and the first screen are set up.
const m = /^\/c\/([^/?#]+)/.exec(location.pathname);
state.cid = m ? decodeURIComponent(m[1]) : pageCampaign();
ensureCampaign().catch(() => {});

createApp(App).use(router).mount('#app');
