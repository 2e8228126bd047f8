import { ref } from 'vue';
import { get, set } from './store.js';

const stored = get('baton.lang');
export const lang = ref(stored === 'en' || stored === 'zh' ? stored : 'zh');
export function setLang(l) {
  lang.value = l;
  set('baton.lang', l);
  try {
    document.documentElement.lang = l === 'en' ? 'en' : 'zh-CN';
  } catch {
    /* not in a browser */
  }
}

const zh = {
  start: '参加答题', continue: '继续答题', again: '再答一次', rules: '答题规则',
  rulesText: '每次 {q} 题，每题 {s} 秒，每天可答 {d} 次',
  participants: '已有 {n} 人参加', participantsLabel: '人已参加', relayed: '{n} 人通过接力加入',
  invitedBy: '{name} 把禁毒接力棒传给了你', invited: '你收到了一根禁毒接力棒',
  notLive: '活动当前不在进行中', upcoming: '活动尚未开始', ended: '活动已结束',
  join: '报名参加', district: '所在区县 / 街道乡镇', choosePlace: '请选择所在区县和街道',
  pick: '请选择', unit: '所在单位（可选）', selected: '已选', unitSearch: '搜索单位名称', noUnit: '不选单位', nickname: '昵称',
  nicknameHint: '1–20 个字', nicknameBad: '昵称需为 1–20 个字', submitJoin: '开始答题',
  question: '第 {i} / {n} 题', seconds: '{s} 秒', timeLeft: '剩余时间',
  single: '单选题', multi: '多选题（可选多项）', judge: '判断题', confirm: '确认提交',
  correct: '回答正确', wrong: '回答错误', timedOut: '时间到，本题计为答错',
  correctAnswer: '正确答案', yourAnswer: '你的选择', explanation: '解析', source: '出处',
  next: '下一题', finish: '查看成绩', points: '+{p} 分', nextTimer: '下一题已开始计时',
  score: '得分', correctCount: '答对 {c} 题', best: '最好成绩 {b} 分', rank: '排名',
  rankGlobal: '全市', rankRegion: '本区县', rankUnit: '本单位', percentile: '超过了 {p}% 的参与者',
  leftToday: '今天还可以答 {n} 次', noneLeft: '今天的答题次数已用完，明天再来',
  boards: '排行榜', pass: '传递接力棒', share: '传递接力棒', copy: '复制链接', copied: '链接已复制',
  copyFail: '请长按链接复制', poster: '分享海报（长按保存）', myRelay: '我的接力（仅自己可见）',
  direct: '直接邀请', descendants: '接力总人数', depth: '我在接力链的第 {d} 棒', chain: '接力来自',
  recent: '最近加入', wechatHint: '点击右上角 ··· 分享给朋友或朋友圈', shareNote: '传递接力棒只记录荣誉，不设任何奖品。',
  boardScore: '总榜', boardRegion: '本区县', boardUnit: '本单位', boardRegions: '区县', boardUnits: '单位', boardRelay: '接力',
  me: '我', total: '共 {n} 名', empty: '暂无数据', people: '人', pts: '分', loading: '加载中…', retry: '重试',
  err_network: '网络不太好，请稍后重试', err_rate_limited: '操作太频繁，{s} 秒后自动重试',
  err_attempts_exhausted: '今天的答题次数已用完，明天再来', err_campaign_not_live: '活动当前不在进行中',
  err_campaign_not_found: '没有找到这个活动，请检查链接是否完整', err_attempt_finished: '本次答题时间已到', err_unauthorized: '登录已过期，请重新报名', err_generic: '出错了：{d}',
  home: '首页', back: '返回',
};
const en = {
  start: 'Start', continue: 'Continue', again: 'Play again', rules: 'Rules',
  rulesText: '{q} questions per round, {s} s each, {d} rounds a day',
  participants: '{n} people have joined', participantsLabel: 'people have joined', relayed: '{n} joined through a relay',
  invitedBy: '{name} passed you the anti-drug baton', invited: 'Someone passed you the anti-drug baton',
  notLive: 'The campaign is not running now', upcoming: 'The campaign has not started yet', ended: 'The campaign has ended',
  join: 'Join', district: 'District / township', choosePlace: 'Choose your district and township',
  pick: 'Choose', unit: 'Unit (optional)', selected: 'Selected', unitSearch: 'Search units', noUnit: 'No unit', nickname: 'Nickname',
  nicknameHint: '1–20 characters', nicknameBad: 'Nickname must be 1–20 characters', submitJoin: 'Start the quiz',
  question: 'Question {i} of {n}', seconds: '{s} s', timeLeft: 'Time left',
  single: 'Single choice', multi: 'Multiple choice (pick all that apply)', judge: 'True or false', confirm: 'Submit',
  correct: 'Correct', wrong: 'Wrong', timedOut: 'Time is up: counted as wrong',
  correctAnswer: 'Correct answer', yourAnswer: 'Your choice', explanation: 'Explanation', source: 'Source',
  next: 'Next question', finish: 'See my result', points: '+{p} points', nextTimer: 'The next question\'s clock is running',
  score: 'Score', correctCount: '{c} correct', best: 'Best score {b}', rank: 'Rank',
  rankGlobal: 'City', rankRegion: 'District', rankUnit: 'Unit', percentile: 'Better than {p}% of participants',
  leftToday: '{n} more rounds today', noneLeft: 'No rounds left today: come back tomorrow',
  boards: 'Leaderboards', pass: 'Pass the baton', share: 'Pass the baton', copy: 'Copy link', copied: 'Link copied',
  copyFail: 'Long-press the link to copy it', poster: 'Share poster (long-press to save)', myRelay: 'My relay (only you see this)',
  direct: 'Joined via me', descendants: 'Whole relay', depth: 'I am leg {d} of my chain', chain: 'Baton came from',
  recent: 'Recently joined', wechatHint: 'Tap ··· at the top right to share with friends', shareNote: 'Passing the baton earns recognition only, never prizes.',
  boardScore: 'Overall', boardRegion: 'District', boardUnit: 'Unit', boardRegions: 'Districts', boardUnits: 'Units', boardRelay: 'Relay',
  me: 'Me', total: '{n} in total', empty: 'Nothing yet', people: 'people', pts: 'pts', loading: 'Loading…', retry: 'Retry',
  err_network: 'Network trouble, please try again', err_rate_limited: 'Too many requests, retrying in {s} s',
  err_attempts_exhausted: 'No rounds left today: come back tomorrow', err_campaign_not_live: 'The campaign is not running now',
  err_campaign_not_found: 'There is no such campaign: check that the link is complete', err_attempt_finished: 'This round\'s time is over', err_unauthorized: 'Session expired: please join again', err_generic: 'Something went wrong: {d}',
  home: 'Home', back: 'Back',
};
const dicts = { zh, en };

export function t(key, params) {
  const s = (dicts[lang.value] || zh)[key] ?? zh[key] ?? key;
  return params ? s.replace(/\{(\w+)\}/g, (_, k) => (params[k] ?? '')) : s;
}

/** A message for an ApiError a person can read. */
export function errorText(e) {
  if (!e) return '';
  const key = `err_${e.code}`;
  if ((dicts[lang.value] || zh)[key]) return t(key, { s: e.retryAfter ?? 1 });
  if (e.status === 401) return t('err_unauthorized');
  return t('err_generic', { d: e.detail || e.code || '' });
}
