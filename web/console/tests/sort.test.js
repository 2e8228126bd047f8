import { describe, it, expect } from 'vitest'
import { sortRows, nextSort } from '../src/sort.js'

const rows = [
  { id: 'a', name: '荷塘区', rate: 0.5, target: 100 },
  { id: 'b', name: '芦淞区', rate: null, target: null },
  { id: 'c', name: '石峰区', rate: 0.9, target: 300 },
  { id: 'd', name: '天元区', rate: 0.5, target: 50 },
]

describe('sortRows', () => {
  it('sorts numbers both ways with missing values last and ties stable', () => {
    expect(sortRows(rows, 'rate', 'desc').map((r) => r.id)).toEqual(['c', 'a', 'd', 'b'])
    expect(sortRows(rows, 'rate', 'asc').map((r) => r.id)).toEqual(['a', 'd', 'c', 'b'])
  })
  it('sorts numerically, not as text', () => {
    const r = [{ v: 10 }, { v: 9 }, { v: 100 }]
    expect(sortRows(r, 'v', 'asc').map((x) => x.v)).toEqual([9, 10, 100])
  })
  it('sorts Chinese names and accepts a key function', () => {
    const byName = sortRows(rows, 'name', 'asc').map((r) => r.name)
    expect(byName).toHaveLength(4)
    expect(sortRows(rows, (r) => r.target, 'asc').map((r) => r.id)).toEqual(['d', 'a', 'c', 'b'])
  })
  it('does not change the input', () => {
    const copy = rows.slice()
    sortRows(rows, 'rate', 'desc')
    expect(rows).toEqual(copy)
  })
})

describe('nextSort', () => {
  it('toggles the direction on the same column and starts numbers descending', () => {
    expect(nextSort({ key: 'rate', dir: 'desc' }, 'rate')).toEqual({ key: 'rate', dir: 'asc' })
    expect(nextSort({ key: 'rate', dir: 'asc' }, 'participants')).toEqual({ key: 'participants', dir: 'desc' })
    expect(nextSort({ key: 'rate', dir: 'asc' }, 'name', false)).toEqual({ key: 'name', dir: 'asc' })
  })
})
