// Server time. Every response narrows the interval the server-minus-local clock offset lies in:
// a server timestamp S taken while the request was in flight (local t0..t1) means
// offset ∈ [S - t1, S - t0]; a Date header (whole seconds, truncated) means
// offset ∈ [D - t1, D + 1000 - t0]. Intervals are intersected; if they stop overlapping
// (the phone's clock was changed) the newest sample wins.
export class Clock {
  constructor(now = () => Date.now()) {
    this.now = now;
    this.lo = -Infinity;
    this.hi = Infinity;
  }
  get known() {
    return Number.isFinite(this.lo) && Number.isFinite(this.hi);
  }
  get offset() {
    return this.known ? Math.round((this.lo + this.hi) / 2) : 0;
  }
  /** A precise server timestamp (ms) produced while the request ran from t0 to t1 (local ms). */
  sample(serverMs, t0, t1) {
    if (!Number.isFinite(serverMs)) return;
    this.narrow(serverMs - t1, serverMs - t0);
  }
  /** The HTTP Date header of a response to a request sent at t0 and received at t1. */
  sampleDateHeader(header, t0, t1) {
    const d = header ? Date.parse(header) : NaN;
    if (!Number.isFinite(d)) return;
    this.narrow(d - t1, d + 1000 - t0);
  }
  narrow(lo, hi) {
    const nlo = Math.max(this.lo, lo);
    const nhi = Math.min(this.hi, hi);
    if (nlo <= nhi) {
      this.lo = nlo;
      this.hi = nhi;
    } else {
      this.lo = lo;
      this.hi = hi;
    }
  }
  serverNow() {
    return this.now() + this.offset;
  }
}

/** Whole seconds left until a server-time deadline (ms), never negative. */
export function secondsLeft(deadlineMs, serverNowMs) {
  if (!Number.isFinite(deadlineMs)) return 0;
  return Math.max(0, Math.ceil((deadlineMs - serverNowMs) / 1000));
}

/**
 * The deadline of the question on screen. The server's `question_deadline` (when resuming or
 * starting) is authoritative; after an answer the next question's time starts at the answer,
 * so it is estimated as answer time + seconds_per_question, never past the attempt's end.
 */
export function nextDeadline({ questionDeadline, answeredAtServerMs, secondsPerQuestion, expiresAt }) {
  const end = expiresAt ? Date.parse(expiresAt) : Infinity;
  let d;
  if (questionDeadline) d = Date.parse(questionDeadline);
  else d = answeredAtServerMs + secondsPerQuestion * 1000;
  return Math.min(d, end);
}

export const clock = new Clock();
