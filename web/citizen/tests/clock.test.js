import { describe, it, expect } from 'vitest';
import { Clock, secondsLeft, nextDeadline } from '../src/lib/clock.js';

describe('Clock', () => {
  it('is zero before any sample', () => {
    const c = new Clock(() => 1000);
    expect(c.offset).toBe(0);
    expect(c.serverNow()).toBe(1000);
  });
  it('takes a precise server timestamp as the middle of the round trip window', () => {
    const c = new Clock(() => 10_000);
    // server stamped 15_100 while the request ran locally from 10_000 to 10_200
    c.sample(15_100, 10_000, 10_200);
    expect(c.offset).toBe(5_000);
    expect(c.serverNow()).toBe(15_000);
  });
  it('narrows with Date headers (whole seconds)', () => {
    const c = new Clock(() => 0);
    const t0 = Date.parse('2026-01-01T00:00:00Z') - 3_000_000; // phone is 50 min slow
    c.sampleDateHeader('Thu, 01 Jan 2026 00:00:00 GMT', t0, t0 + 100);
    // offset ∈ [D - t1, D + 1000 - t0] = [3_000_000 - 100, 3_001_000]
    expect(c.lo).toBe(2_999_900);
    expect(c.hi).toBe(3_001_000);
    c.sampleDateHeader('Thu, 01 Jan 2026 00:00:01 GMT', t0 + 400, t0 + 500);
    // second sample: [3_001_000 - 500 + ... ] → [3_000_500, 3_001_600] ∩ previous
    expect(c.lo).toBe(3_000_500);
    expect(c.hi).toBe(3_001_000);
    expect(c.offset).toBe(3_000_750);
  });
  it('ignores unparseable headers', () => {
    const c = new Clock(() => 0);
    c.sampleDateHeader(null, 0, 1);
    c.sampleDateHeader('garbage', 0, 1);
    expect(c.known).toBe(false);
  });
  it('starts over when the phone clock jumps (disjoint intervals)', () => {
    const c = new Clock(() => 0);
    c.sample(1_000, 0, 100); // offset ∈ [900, 1000]
    c.sample(1_000, 60_000, 60_100); // phone moved a minute ahead
    expect(c.offset).toBe(1_000 - 60_050);
  });
});

describe('secondsLeft', () => {
  it('rounds up and never goes negative', () => {
    expect(secondsLeft(20_000, 0)).toBe(20);
    expect(secondsLeft(20_000, 100)).toBe(20);
    expect(secondsLeft(20_000, 19_001)).toBe(1);
    expect(secondsLeft(20_000, 20_000)).toBe(0);
    expect(secondsLeft(20_000, 25_000)).toBe(0);
    expect(secondsLeft(NaN, 0)).toBe(0);
  });
});

describe('nextDeadline', () => {
  const expiresAt = '2026-11-29T16:54:05.081Z';
  it('prefers the server question_deadline', () => {
    expect(nextDeadline({ questionDeadline: '2026-11-29T16:50:45.081Z', expiresAt, secondsPerQuestion: 20 })).toBe(Date.parse('2026-11-29T16:50:45.081Z'));
  });
  it('after an answer: answer time + seconds per question', () => {
    const at = Date.parse('2026-11-29T16:51:00Z');
    expect(nextDeadline({ answeredAtServerMs: at, secondsPerQuestion: 20, expiresAt })).toBe(at + 20_000);
  });
  it('never past the attempt end', () => {
    const at = Date.parse('2026-11-29T16:53:55Z');
    expect(nextDeadline({ answeredAtServerMs: at, secondsPerQuestion: 20, expiresAt })).toBe(Date.parse(expiresAt));
  });
});
