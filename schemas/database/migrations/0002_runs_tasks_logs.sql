CREATE TABLE "log_chunks" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"task" text NOT NULL,
	"attempt" integer NOT NULL,
	"lines" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "task_runs" (
	"run_id" text NOT NULL,
	"name" text NOT NULL,
	"phase" text NOT NULL,
	"position" integer NOT NULL,
	"type" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempt" integer DEFAULT 0 NOT NULL,
	"actuator" text,
	"exit_code" integer,
	"outputs" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"error" text,
	"skip_reason" text,
	"child_run_id" text,
	"not_before" timestamp with time zone,
	"lease_until" timestamp with time zone,
	"worker" text,
	"decided_by" text,
	"decision" text,
	"attempts" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "task_runs_run_id_name_pk" PRIMARY KEY("run_id","name")
);
--> statement-breakpoint
DROP INDEX "runs_once_per_event";--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "parent_run_id" text;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "parent_task" text;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "concurrency_group" text;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "contexts" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "outputs" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "error" text;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "stop_requested" text;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "started_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "finished_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "deadline_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "updated_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "version" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "log_chunks" ADD CONSTRAINT "log_chunks_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_runs" ADD CONSTRAINT "task_runs_run_id_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "log_chunks_run" ON "log_chunks" USING btree ("run_id","task","id");--> statement-breakpoint
CREATE INDEX "task_runs_active" ON "task_runs" USING btree ("status","lease_until") WHERE "task_runs"."status" in ('queued', 'running');--> statement-breakpoint
CREATE INDEX "task_runs_actuator" ON "task_runs" USING btree ("actuator") WHERE "task_runs"."status" = 'running';--> statement-breakpoint
CREATE UNIQUE INDEX "runs_child_once" ON "runs" USING btree ("parent_run_id","parent_task") WHERE "runs"."parent_run_id" is not null;--> statement-breakpoint
CREATE INDEX "runs_created" ON "runs" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "runs_group" ON "runs" USING btree ("concurrency_group","created_at") WHERE "runs"."concurrency_group" is not null;--> statement-breakpoint
CREATE INDEX "runs_unfinished" ON "runs" USING btree ("status") WHERE "runs"."status" in ('pending', 'running');--> statement-breakpoint
CREATE UNIQUE INDEX "runs_once_per_event" ON "runs" USING btree ("event_id","source","trigger","pipeline_index") WHERE "runs"."parent_run_id" is null;