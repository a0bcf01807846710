CREATE TABLE "github_command_replies" (
	"event_id" text PRIMARY KEY NOT NULL,
	"reactions" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"reply_id" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "github_comments" (
	"owner" text NOT NULL,
	"repo" text NOT NULL,
	"issue_number" integer NOT NULL,
	"pipeline" text NOT NULL,
	"comment_id" bigint,
	"run_id" text,
	"lock_until" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "github_comments_owner_repo_issue_number_pipeline_pk" PRIMARY KEY("owner","repo","issue_number","pipeline")
);
--> statement-breakpoint
CREATE TABLE "github_definition_checks" (
	"owner" text NOT NULL,
	"repo" text NOT NULL,
	"head_sha" text NOT NULL,
	"installation_id" bigint,
	"check_run_id" bigint,
	"annotations_sent" integer DEFAULT 0 NOT NULL,
	"reported_key" text,
	"lock_until" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "github_definition_checks_owner_repo_head_sha_pk" PRIMARY KEY("owner","repo","head_sha")
);
--> statement-breakpoint
CREATE TABLE "github_reports" (
	"run_id" text PRIMARY KEY NOT NULL,
	"owner" text NOT NULL,
	"repo" text NOT NULL,
	"head_sha" text,
	"issue_number" integer,
	"is_pull" boolean DEFAULT false NOT NULL,
	"installation_id" bigint,
	"check_run_id" bigint,
	"reported_version" text,
	"lock_until" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "github_command_replies" ADD CONSTRAINT "github_command_replies_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."events"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "github_reports" ADD CONSTRAINT "github_reports_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;