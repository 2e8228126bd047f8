import { describe, it, expect } from 'vitest'
import { rateBand, barWidth, BANDS } from '../src/bands.js'

describe('rateBand', () => {
  it('puts rates in bands at their lower edges', () => {
    expect(rateBand(1.2).key).toBe('met')
    expect(rateBand(1).key).toBe('met')
    expect(rateBand(0.9999).key).toBe('good')
    expect(rateBand(0.6).key).toBe('good')
    expect(rateBand(0.5999).key).toBe('fair')
    expect(rateBand(0.3).key).toBe('fair')
    expect(rateBand(0.29).key).toBe('low')
    expect(rateBand(0).key).toBe('low')
  })
  it('has a text label for every band, also without a target', () => {
    for (const b of BANDS) expect(b.label.length).toBeGreaterThan(0)
    expect(rateBand(null)).toMatchObject({ key: 'none', label: '无目标' })
    expect(rateBand(undefined).key).toBe('none')
  })
  it('caps the bar at 100%', () => {
    expect(barWidth(0.25)).toBe(25)
    expect(barWidth(3)).toBe(100)
    expect(barWidth(null)).toBe(0)
    expect(barWidth(-1)).toBe(0)
  })
})

import { pct } from '../src/format.js'
describe('pct', () => {
  it('keeps small rates visible and marks missing ones', () => {
    expect(pct(0.5)).toBe('50.0%')
    expect(pct(0.05)).toBe('5.00%')
    expect(pct(0.000151)).toBe('0.015%')
    expect(pct(0.000002)).toBe('<0.001%')
    expect(pct(0)).toBe('0.00%')
    expect(pct(null)).toBe('—')
  })
})
