import { describe, it, expect } from 'vitest';
import { t, errorText, setLang } from '../src/lib/i18n.js';
import { ApiError } from '../src/lib/api.js';

describe('i18n', () => {
  it('Chinese first, English switchable, parameters filled', () => {
    setLang('zh');
    expect(t('rulesText', { q: 10, s: 20, d: 3 })).toBe('每次 10 题，每题 20 秒，每天可答 3 次');
    setLang('en');
    expect(t('rulesText', { q: 10, s: 20, d: 3 })).toBe('10 questions per round, 20 s each, 3 rounds a day');
    setLang('zh');
  });
  it('known problem codes get their own words; others show the server detail', () => {
    setLang('zh');
    expect(errorText(new ApiError(409, { code: 'attempts_exhausted', detail: 'x' }))).toBe('今天的答题次数已用完，明天再来');
    expect(errorText(new ApiError(429, { code: 'rate_limited' }, 7))).toBe('操作太频繁，7 秒后自动重试');
    expect(errorText(new ApiError(0, { code: 'network' }))).toBe('网络不太好，请稍后重试');
    expect(errorText(new ApiError(401, { code: 'invalid_token' }))).toBe('登录已过期，请重新报名');
    expect(errorText(new ApiError(400, { code: 'invalid_nickname', detail: '昵称太长' }))).toBe('出错了：昵称太长');
  });
});
