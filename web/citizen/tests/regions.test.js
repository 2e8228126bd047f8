import { describe, it, expect } from 'vitest';
import { toCascaderOptions, filterUnits, subtreeIds, countyOf, pathTo, nicknameValid } from '../src/lib/regions.js';
import { firstUnanswered, isComplete } from '../src/lib/quiz.js';

const regions = [
  {
    id: 'zz', name: '株洲市', level: 'city', target: null,
    children: [
      { id: 'ht', name: '荷塘区', level: 'county', target: 1, children: [
        { id: 'ht-yt', name: '月塘街道', level: 'township', target: 1, children: [] },
        { id: 'ht-cgt', name: '茨菇塘街道', level: 'township', target: 1, children: [] },
      ] },
      { id: 'ls', name: '芦淞区', level: 'county', target: 1, children: [
        { id: 'ls-js', name: '建设街道', level: 'township', target: 1, children: [] },
      ] },
      { id: 'yl', name: '炎陵县', level: 'county', target: 1, children: [] },
    ],
  },
];
const units = [
  { id: 'u1', name: '月塘街道袁家湾社区', region_id: 'ht-yt' },
  { id: 'u2', name: '荷塘区第一中学', region_id: 'ht' },
  { id: 'u3', name: '建设街道社区', region_id: 'ls-js' },
  { id: 'u4', name: 'CRRC Zhuzhou Works', region_id: 'ls' },
];

describe('cascader options', () => {
  it('skips a single root city and maps district → township', () => {
    const o = toCascaderOptions(regions);
    expect(o.map((x) => x.text)).toEqual(['荷塘区', '芦淞区', '炎陵县']);
    expect(o[0].children).toEqual([
      { text: '月塘街道', value: 'ht-yt' },
      { text: '茨菇塘街道', value: 'ht-cgt' },
    ]);
  });
  it('leaves have no children key (the cascader finishes there)', () => {
    const o = toCascaderOptions(regions);
    expect('children' in o[2]).toBe(false);
    expect('children' in o[0].children[0]).toBe(false);
  });
  it('keeps several roots as they are', () => {
    const two = [regions[0], { id: 'x', name: 'X市', level: 'city', children: [] }];
    expect(toCascaderOptions(two).map((x) => x.value)).toEqual(['zz', 'x']);
  });
  it('handles no regions', () => {
    expect(toCascaderOptions(undefined)).toEqual([]);
  });
});

describe('place tree', () => {
  it('paths, subtrees and counties', () => {
    expect(pathTo(regions, 'ht-yt').map((p) => p.id)).toEqual(['zz', 'ht', 'ht-yt']);
    expect(pathTo(regions, 'nope')).toEqual([]);
    expect([...subtreeIds(regions, 'ht')].sort()).toEqual(['ht', 'ht-cgt', 'ht-yt']);
    expect(countyOf(regions, 'ht-yt').id).toBe('ht');
    expect(countyOf(regions, 'ls').id).toBe('ls');
    expect(countyOf(regions, 'missing')).toBe(null);
  });
});

describe('unit filtering', () => {
  it('keeps units of the chosen place and everything under it', () => {
    expect(filterUnits(units, regions, 'ht').map((u) => u.id)).toEqual(['u1', 'u2']);
    expect(filterUnits(units, regions, 'ht-yt').map((u) => u.id)).toEqual(['u1']);
    expect(filterUnits(units, regions, 'zz').length).toBe(4);
  });
  it('filters by a case-insensitive substring', () => {
    expect(filterUnits(units, regions, 'ls', 'crrc').map((u) => u.id)).toEqual(['u4']);
    expect(filterUnits(units, regions, 'ht', '  中学 ').map((u) => u.id)).toEqual(['u2']);
    expect(filterUnits(units, regions, 'ht', '建设')).toEqual([]);
  });
  it('nothing before a place is chosen; a limit', () => {
    expect(filterUnits(units, regions, '')).toEqual([]);
    expect(filterUnits(units, regions, 'zz', '', 2).length).toBe(2);
  });
});

describe('nicknames', () => {
  it('1–20 characters after trimming, emoji count one', () => {
    expect(nicknameValid('  ')).toBe(false);
    expect(nicknameValid('小明')).toBe(true);
    expect(nicknameValid('一'.repeat(20))).toBe(true);
    expect(nicknameValid('一'.repeat(21))).toBe(false);
    expect(nicknameValid('😀'.repeat(20))).toBe(true);
    expect(nicknameValid('a\u0007b')).toBe(false);
  });
});

describe('quiz progress', () => {
  it('finds the first unanswered question', () => {
    const qs = [{ answer: { correct: true } }, { answer: null }, { answer: null }];
    expect(firstUnanswered(qs)).toBe(1);
    expect(isComplete(qs)).toBe(false);
    expect(isComplete([{ answer: {} }])).toBe(true);
  });
});
