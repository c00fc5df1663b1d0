/**
 * prefect.utilities.math.clamped_poisson_interval: an exponential ("Poisson
 * inter-arrival") sample clamped to at most `average * (1 + clamping)`, with a
 * lower bound chosen so the mean stays near `average`. Prefect uses it to jitter
 * retry delays so that waiting clients do not all wake up at once.
 */
export function clampedPoissonInterval(average: number, clamping = 0.3, random: () => number = Math.random): number {
  if (average <= 0) return 0;
  const k = 1 + clamping;
  // The lower multiple puts as much probability mass between it and the median as between the median and k.
  const lowerMultiple = k >= 50 ? 0 : Math.log2(Math.max(2 ** k / (2 ** k - 1), 1e-10));
  const cdf = (x: number) => 1 - Math.exp(-x / average);
  const lowerRv = cdf(Math.max(0, average * lowerMultiple));
  const upperRv = cdf(average * k);
  const u = lowerRv + random() * (upperRv - lowerRv);
  return -Math.log(Math.max(1 - u, 1e-10)) * average;
}
