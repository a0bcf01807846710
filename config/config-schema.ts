// The one schema of eventops.yaml (TypeBox → JSON Schema, checked with Ajv). Every key has
// its default here; docs/configuration.md describes them for users.
import { Type, type Static } from '@sinclair/typebox';

const SecretRef = Type.Object(
  { secret: Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: 'a secret name such as GITHUB_TOKEN' }) },
  { additionalProperties: false },
);

const Duration = Type.String({ pattern: '^(\\d+(ms|s|m|h|d))+$', description: 'a duration such as 30s, 5m or 1h' });
const ByteSize = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: '^\\s*\\d+(\\.\\d+)?\\s*([kKmMgG][iI]?[bB]|[bB])?\\s*$', description: 'a size such as 10MiB, 512MB or 65536 (bytes)' })]);

const ReceiverSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63, description: 'lowercase letters, digits and `-`' }),
    auth: Type.Object(
      {
        /** `Authorization: Bearer <value of the secret>`. */
        bearer: Type.Optional(SecretRef),
        /** An HMAC-SHA256 of the raw body in a header (GitHub-style by default). */
        hmac: Type.Optional(
          Type.Object(
            {
              secret: Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: 'a secret name such as GITHUB_TOKEN' }),
              header: Type.Optional(Type.String({ minLength: 1 })),
              prefix: Type.Optional(Type.String()),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export const SourceConfigSchema = Type.Object(
  {
    /** Unique; also the namespace of the source's definitions. */
    name: Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63, description: 'lowercase letters, digits and `-`' }),
    /** A git repository over HTTP(S). Exactly one of `url` and `path`. */
    url: Type.Optional(Type.String({ pattern: '^https?://', description: 'an http:// or https:// git URL' })),
    /** A local folder (relative to the configuration file). */
    path: Type.Optional(Type.String({ minLength: 1 })),
    /** Branch, tag or full commit id; default: the repository's HEAD (git only). */
    ref: Type.Optional(Type.String({ minLength: 1 })),
    /** Sub-folder holding the definitions; default: the whole repository. */
    dir: Type.Optional(Type.String()),
    /** How often to look for a new revision; default 1m (git), 10m (folders, which are also watched). */
    interval: Type.Optional(Type.String({ pattern: '^(\\d+(ms|s|m|h|d))+$', description: 'a duration such as 30s, 5m or 1h' })),
    /** Network timeout of one git operation; default 60s. */
    timeout: Type.Optional(Type.String({ pattern: '^(\\d+(ms|s|m|h|d))+$', description: 'a duration such as 30s, 5m or 1h' })),
    /** Globs (relative to `dir`) of YAML files that are not definitions. */
    ignore: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    auth: Type.Optional(Type.Object({ token: Type.Optional(SecretRef) }, { additionalProperties: false })),
    /** Secrets this source's definitions may name (`{ secret: NAME }` in a task's env); any other is refused at run time. */
    secrets: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }))),
  },
  { additionalProperties: false },
);

export const ConfigSchema = Type.Object(
  {
    server: Type.Optional(
      Type.Object(
        {
          /** PORT; default 8080. */
          port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
          /** HOST; default 0.0.0.0 (every interface: the API needs a token, webhooks a signature). */
          host: Type.Optional(Type.String({ minLength: 1 })),
          /** GET routes of `/api/v1` without a token; default false. */
          anonymousRead: Type.Optional(Type.Boolean()),
          /** PUBLIC_URL: where people reach this server (links in check runs and comments), e.g. `https://eventops.example.com`; default none (no links). */
          publicUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
          /** The `admin` API token, from a secret (every process stores its hash; none writes `<dataDir>/admin-token`); default: made on the first start and written there. */
          adminToken: Type.Optional(SecretRef),
          /** After SIGTERM, how long `/readyz` answers 503 before the server stops taking requests (load balancers notice first); default 2s. */
          shutdownDelay: Type.Optional(Type.String({ pattern: '^(\\d+(ms|s|m|h|d))+$', description: 'a duration such as 30s, 5m or 1h' })),
        },
        { additionalProperties: false },
      ),
    ),
    /** DATABASE_URL; absent → the embedded PGlite under `dataDir`. */
    database: Type.Optional(Type.Object({ url: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })) }, { additionalProperties: false })),
    /** REDIS_URL; absent → the embedded queue (used from the event-intake version on). */
    redis: Type.Optional(
      Type.Object(
        {
          url: Type.Optional(Type.String({ pattern: '^rediss?://' })),
          /** Key prefix of every queue key; default `eventops`. Deployments sharing one Redis need their own. */
          prefix: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]+$', description: 'letters, digits, `_`, `.` and `-`' })),
        },
        { additionalProperties: false },
      ),
    ),
    /** The sweeper that re-enqueues accepted events that never reached the queue. */
    queue: Type.Optional(
      Type.Object(
        {
          /** How often it looks; default 30s. */
          sweepInterval: Type.Optional(Type.String({ pattern: '^(\\d+(ms|s|m|h|d))+$', description: 'a duration such as 30s, 5m or 1h' })),
          /** How long an event may wait unmatched before it is re-enqueued; default 1m. */
          sweepAfter: Type.Optional(Type.String({ pattern: '^(\\d+(ms|s|m|h|d))+$', description: 'a duration such as 30s, 5m or 1h' })),
        },
        { additionalProperties: false },
      ),
    ),
    /** The run engine's workers. */
    runs: Type.Optional(
      Type.Object(
        {
          /** Tasks one worker process runs at once; default 8. */
          concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          /** How long a task's claim lasts without renewal (a dead worker's task is retried or failed after it); default 30s. */
          lease: Type.Optional(Type.String({ pattern: '^(\\d+(ms|s|m|h|d))+$', description: 'a duration such as 30s, 5m or 1h' })),
          /** How long a stopping worker waits for the tasks it runs; then it stops them and hands them back (queued again, not counted against retries); default 30s. */
          shutdownTimeout: Type.Optional(Type.String({ pattern: '^(\\d+(ms|s|m|h|d))+$', description: 'a duration such as 30s, 5m or 1h' })),
        },
        { additionalProperties: false },
      ),
    ),
    /** Bounds that keep hostile input and faults from stalling, crashing or filling eventops (docs/operations.md, "Limits"). */
    limits: Type.Optional(
      Type.Object(
        {
          git: Type.Optional(
            Type.Object(
              {
                /** A whole git fetch (every round trip and resolving the pack); default 5m. */
                fetchTimeout: Type.Optional(Duration),
                /** Heap one git fetch may use; default 512MiB. */
                fetchMemory: Type.Optional(ByteSize),
              },
              { additionalProperties: false },
            ),
          ),
          jobs: Type.Optional(
            Type.Object(
              {
                /** A job running when the process died this many times is parked with its error; default 2. */
                maxCrashes: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
              },
              { additionalProperties: false },
            ),
          ),
          yaml: Type.Optional(
            Type.Object(
              {
                /** Aliases (`*name`) one YAML document may use; default 100. */
                maxAliases: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
              },
              { additionalProperties: false },
            ),
          ),
          http: Type.Optional(
            Type.Object(
              {
                /** One request body; default 25MiB (GitHub's own limit). */
                maxBodySize: Type.Optional(ByteSize),
                /** Request bodies being read at once over all connections; beyond it 503; default 100MiB. */
                bodiesInFlight: Type.Optional(ByteSize),
                /** Open connections; default 1000. */
                maxConnections: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
                /** Time a request body may take to arrive; beyond it 408; default 30s. */
                bodyTimeout: Type.Optional(Duration),
                /** Nesting of a JSON or YAML body; default 100. */
                maxDepth: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
              },
              { additionalProperties: false },
            ),
          ),
          matching: Type.Optional(
            Type.Object(
              {
                /** Cost budget of one filter expression (CEL); over it the filter is `filtered`; default 100000. */
                expressionCost: Type.Optional(Type.Integer({ minimum: 1 })),
                /** Matching time of one event over all triggers; default 2s. */
                eventTime: Type.Optional(Duration),
              },
              { additionalProperties: false },
            ),
          ),
          logs: Type.Optional(
            Type.Object(
              {
                /** Log stored per task (first and last part kept beyond it); default 10MiB. */
                taskLogSize: Type.Optional(ByteSize),
                /** Largest page of `GET /api/v1/runs/:id/logs`; default 1MiB. */
                pageSize: Type.Optional(ByteSize),
                /** Live log followers in total; default 200. */
                maxFollowers: Type.Optional(Type.Integer({ minimum: 1 })),
                /** Live log followers per token; default 20. */
                maxFollowersPerToken: Type.Optional(Type.Integer({ minimum: 1 })),
              },
              { additionalProperties: false },
            ),
          ),
          docker: Type.Optional(
            Type.Object(
              {
                /** Deadline of one Docker API call; default 30s. */
                apiTimeout: Type.Optional(Duration),
              },
              { additionalProperties: false },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    /** EVENTOPS_DATA_DIR; default `.eventops` next to the configuration file (or the working folder). */
    dataDir: Type.Optional(Type.String({ minLength: 1 })),
    /** LOG_LEVEL; default info. */
    log: Type.Optional(Type.Object({ level: Type.Optional(Type.Union([Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')])) }, { additionalProperties: false })),
    /** Where secrets come from besides `EVENTOPS_SECRET_<NAME>`: a folder with one file per secret. */
    secrets: Type.Optional(Type.Object({ dir: Type.Optional(Type.String({ minLength: 1 })) }, { additionalProperties: false })),
    sources: Type.Optional(Type.Array(SourceConfigSchema)),
    /**
     * NATS JetStream: events in (a durable consumer per subject filter on `stream`, when `stream`
     * and `subjects` are set) and the CloudEvents of runs out (always, to `<runsPrefix>.>`).
     */
    nats: Type.Optional(
      Type.Object(
        {
          /** NATS_URL, e.g. nats://127.0.0.1:4222. */
          url: Type.Optional(Type.String({ pattern: '^(nats|tls|wss?)://', description: 'a nats:// URL' })),
          /** The JetStream stream that captures the subjects (created by the operator); with `subjects`, events come in from it. */
          stream: Type.Optional(Type.String({ minLength: 1 })),
          subjects: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
          /** Runs' CloudEvents go to `<runsPrefix>.<pipeline>.<run>.<status>`; default `eventops.runs`. A stream must capture `<runsPrefix>.>`. */
          runsPrefix: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$', description: 'NATS subject tokens without wildcards, e.g. eventops.runs' })),
          /** Prefix of the durable consumer names; default `eventops`. */
          durable: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]+$' })),
        },
        { additionalProperties: false },
      ),
    ),
    /** Generic webhook receivers: `POST /webhooks/generic/<name>`, each with a bearer token or an HMAC signature. */
    receivers: Type.Optional(Type.Array(ReceiverSchema)),
    github: Type.Optional(
      Type.Object(
        {
          /** The GitHub App that writes check runs and comments: its id and private key (PEM). */
          appId: Type.Optional(Type.Integer({ minimum: 1 })),
          privateKey: Type.Optional(SecretRef),
          /** Instead of an App: a token (a fine-grained token or a bot's PAT) with checks, issues and pull requests access. */
          token: Type.Optional(SecretRef),
          /** GITHUB_API_URL: the REST API's base URL; default GitHub's. For GitHub Enterprise Server: `https://HOST/api/v3`. */
          apiUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
          /** Check runs: `eventops/<pipeline>` for runs of events that carry a repository and a commit, and `eventops/definitions` on pushes and pull requests to a source's repository; default true when the App or a token is set. */
          checks: Type.Optional(Type.Boolean()),
          /** Secrets `X-Hub-Signature-256` may be signed with: several at once while rotating. */
          webhookSecrets: Type.Optional(Type.Array(SecretRef)),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export type RawConfig = Static<typeof ConfigSchema>;
export type RawSourceConfig = Static<typeof SourceConfigSchema>;
