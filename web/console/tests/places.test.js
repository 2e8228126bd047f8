import { describe, it, expect } from 'vitest'
import { indexPlaces, pathTo, within } from '../src/places.js'

const campaign = {
  regions: [{ id: 'city', name: '市', children: [
    { id: 'hetang', name: '荷塘区', children: [{ id: 'hetang-yuetang', name: '月塘街道', children: [] }] },
    { id: 'liling', name: '醴陵市', children: [] },
  ] }],
}

describe('places', () => {
  const byId = indexPlaces(campaign)
  it('walks from the root to a place', () => {
    expect(pathTo(byId, 'hetang-yuetang').map((p) => p.id)).toEqual(['city', 'hetang', 'hetang-yuetang'])
    expect(pathTo(byId, 'nowhere')).toEqual([])
  })
  it('knows what is inside a scope', () => {
    expect(within(byId, 'hetang-yuetang', 'hetang')).toBe(true)
    expect(within(byId, 'hetang', 'hetang')).toBe(true)
    expect(within(byId, 'liling', 'hetang')).toBe(false)
    expect(within(byId, 'liling', null)).toBe(true)
  })
  it('copes with a missing campaign', () => {
    expect(indexPlaces(null).size).toBe(0)
  })
})
