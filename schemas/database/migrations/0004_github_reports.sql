CREATE TABLE "github_reports" (
	"run_id" text PRIMARY KEY NOT NULL,
	"owner" text NOT NULL,
	"repo" text NOT NULL,
	"head_sha" text,
	"pull_number" integer,
	"installation_id" bigint,
	"check_run_id" bigint,
	"reported_status" text,
	"lock_until" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "github_reports" ADD CONSTRAINT "github_reports_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;