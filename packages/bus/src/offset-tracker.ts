/**
 * Commit watermark of one partition. Records are added in offset order and finish in any
 * order; the committable offset is the lowest unfinished one (Kafka commits "the next offset
 * to read"), or one past the highest added when everything is finished. A crash then replays
 * only unfinished work. Offsets may have gaps (compaction, transaction markers): a gap below
 * the lowest unfinished record is committed over, as Kafka's own consumer does.
 */
export class OffsetTracker {
  /** Offsets added and not yet below the watermark, ascending. */
  private offsets: number[] = []
  /** Finished flags, parallel to `offsets`. */
  private finished: boolean[] = []
  private head = 0
  private highest = -1
  private unfinishedCount = 0

  /** Registers a record; offsets must increase. */
  add (offset: number): void {
    if (offset <= this.highest) throw new Error(`offset ${offset} added after ${this.highest}`)
    this.highest = offset
    this.offsets.push(offset)
    this.finished.push(false)
    this.unfinishedCount++
  }

  /** Marks a record finished; returns true when the watermark moved. */
  finish (offset: number): boolean {
    // Records finish near the head in practice; a binary search keeps the worst case cheap.
    let lo = this.head
    let hi = this.offsets.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const o = this.offsets[mid]!
      if (o === offset) {
        if (this.finished[mid] === true) return false
        this.finished[mid] = true
        this.unfinishedCount--
        return this.advance()
      }
      if (o < offset) lo = mid + 1; else hi = mid - 1
    }
    return false
  }

  private advance (): boolean {
    const before = this.head
    while (this.head < this.offsets.length && this.finished[this.head] === true) this.head++
    if (this.head > 1024 && this.head * 2 > this.offsets.length) {
      this.offsets = this.offsets.slice(this.head)
      this.finished = this.finished.slice(this.head)
      this.head = 0
      return true
    }
    return this.head !== before
  }

  /** The offset to commit (next to read), or undefined when nothing was ever added. */
  committable (): number | undefined {
    if (this.highest < 0) return undefined
    return this.head < this.offsets.length ? this.offsets[this.head]! : this.highest + 1
  }

  /** One past the highest offset added (-1 when none): records below it are already known. */
  nextExpected (): number { return this.highest + 1 }

  /** Records added and not finished. */
  get unfinished (): number { return this.unfinishedCount }

  /** Records held (unfinished, and finished ones above the lowest unfinished). */
  get size (): number { return this.offsets.length - this.head }
}
