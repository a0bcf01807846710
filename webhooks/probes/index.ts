// Probes of every eventops process: liveness, readiness and Prometheus metrics.
export { probeRoutes, type ProbeDeps, type ReadinessAnswer, type ReadinessCheck } from './probe-routes.js';
