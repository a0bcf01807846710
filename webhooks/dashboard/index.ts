// The dashboard page (`/`, `/runs/<id>`, `/sources`, `/events`): static files served as they are,
// reading the read-only API in the browser. See docs/operations.md, "The dashboard".
export { dashboardFolder, dashboardRoutes, DASHBOARD_CSP, DASHBOARD_PAGES } from './dashboard-routes.js';
