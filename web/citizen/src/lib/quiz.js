/** Index of the first question without an answer, or -1. */
export function firstUnanswered(questions) {
  return (questions || []).findIndex((q) => !q.answer);
}
export function isComplete(questions) {
  return firstUnanswered(questions) === -1;
}
