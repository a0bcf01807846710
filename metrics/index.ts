// Prometheus metrics of an eventops process: the registry, what is counted, and the readers of
// the gauges read at scrape time.
export { createMetrics, type Metrics, type ScrapeReaders } from './create-metrics.js';
