// Participation-rate bands. Colour is never the only signal: every band also has a text label
// (and an icon-like mark), so the tables read the same in greyscale and to colour-blind eyes.

export const BANDS = [
  { key: 'met', min: 1.0, label: '已达标', en: 'target met', mark: '●' },
  { key: 'good', min: 0.6, label: '良好', en: 'on track', mark: '◐' },
  { key: 'fair', min: 0.3, label: '一般', en: 'behind', mark: '◔' },
  { key: 'low', min: 0, label: '落后', en: 'far behind', mark: '○' },
]

export const NO_TARGET = { key: 'none', min: null, label: '无目标', en: 'no target', mark: '–' }

/** The band of a rate (participants ÷ target, 1.0 = target met); null/undefined: no target. */
export function rateBand(rate) {
  if (rate === null || rate === undefined || Number.isNaN(rate)) return NO_TARGET
  for (const b of BANDS) if (rate >= b.min) return b
  return BANDS[BANDS.length - 1]
}

/** Width of the rate bar in percent, capped at 100. */
export function barWidth(rate) {
  if (rate === null || rate === undefined || !(rate > 0)) return 0
  return Math.min(100, rate * 100)
}
