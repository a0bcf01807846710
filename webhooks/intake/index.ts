// Event intake over HTTP: the GitHub and generic webhook receivers and the events API, all of
// them verify, persist, then answer (the matching happens in workers).
export { createIntake, type Intake, type IntakeDeps, type IncomingEvent, type AcceptedEvent } from './accept-event.js';
export { githubReceiver, type GithubReceiverDeps } from './github-receiver.js';
export { genericReceiver, type GenericReceiverDeps } from './generic-receiver.js';
export { eventsRoutes, type EventsRoutesDeps } from './events-routes.js';
export { UnstorableError } from './storable.js';
export { bodyBudgetMiddleware, createBodyBudget, type BodyBudget, type BodyAllowance, type HttpLimits } from './body-budget.js';
