/**
 * A latency histogram with fixed buckets (0.05 ms up to 100 ms, then 1 ms up to 60 s),
 * mergeable across worker processes. Percentiles are accurate to a bucket.
 */
export class Histogram {
  static readonly fineStep = 0.05;
  static readonly fineLimit = 100;
  static readonly coarseLimit = 60_000;
  counts: number[];
  max = 0;
  total = 0;

  constructor(counts?: number[], max = 0) {
    const size = Histogram.fineLimit / Histogram.fineStep + (Histogram.coarseLimit - Histogram.fineLimit) + 1;
    this.counts = counts ?? new Array(size).fill(0);
    this.max = max;
    this.total = this.counts.reduce((a, b) => a + b, 0);
  }

  /** Adds one sample; a sample that is not a number is a harness bug and throws (it would corrupt the buckets). */
  record(ms: number): void {
    if (!Number.isFinite(ms)) throw new Error(`latency sample ${ms} is not a number`);
    const value = Math.max(0, ms);
    const index =
      value < Histogram.fineLimit
        ? Math.floor(value / Histogram.fineStep)
        : Histogram.fineLimit / Histogram.fineStep + Math.min(Math.floor(value - Histogram.fineLimit), Histogram.coarseLimit - Histogram.fineLimit);
    this.counts[index]++;
    this.total++;
    if (value > this.max) this.max = value;
  }

  merge(other: { counts: number[]; max: number }): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i] += other.counts[i];
    this.total = this.counts.reduce((a, b) => a + b, 0);
    this.max = Math.max(this.max, other.max);
  }

  /** The value at percentile p (0-100), as the upper edge of its bucket. */
  percentile(p: number): number {
    if (this.total === 0) return 0;
    const rank = Math.ceil((p / 100) * this.total);
    let seen = 0;
    const fineBuckets = Histogram.fineLimit / Histogram.fineStep;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) {
        const edge = i < fineBuckets ? (i + 1) * Histogram.fineStep : Histogram.fineLimit + (i - fineBuckets) + 1;
        return Math.min(edge, this.max);
      }
    }
    return this.max;
  }

  toJSON(): { counts: number[]; max: number } {
    return { counts: this.counts, max: this.max };
  }
}
