CREATE TABLE "definitions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"source" text NOT NULL,
	"kind" text NOT NULL,
	"name" text NOT NULL,
	"file" text NOT NULL,
	"line" integer NOT NULL,
	"column" integer NOT NULL,
	"legacy" text,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"spec" jsonb NOT NULL,
	"content_hash" text NOT NULL,
	"added_revision_id" bigint NOT NULL,
	"removed_revision_id" bigint
);
--> statement-breakpoint
CREATE TABLE "revisions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"source" text NOT NULL,
	"commit" text NOT NULL,
	"config_hash" text NOT NULL,
	"status" text NOT NULL,
	"diagnostics" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"error_count" integer DEFAULT 0 NOT NULL,
	"warning_count" integer DEFAULT 0 NOT NULL,
	"file_count" integer DEFAULT 0 NOT NULL,
	"definition_count" integer DEFAULT 0 NOT NULL,
	"timings" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sources" (
	"name" text PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"location" text NOT NULL,
	"ref" text,
	"dir" text DEFAULT '' NOT NULL,
	"config_hash" text,
	"active_revision_id" bigint,
	"last_revision" text,
	"last_config_hash" text,
	"conditions" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"history" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"last_attempt_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "definitions" ADD CONSTRAINT "definitions_source_sources_name_fk" FOREIGN KEY ("source") REFERENCES "public"."sources"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "revisions" ADD CONSTRAINT "revisions_source_sources_name_fk" FOREIGN KEY ("source") REFERENCES "public"."sources"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "definitions_active" ON "definitions" USING btree ("source","kind","name") WHERE "definitions"."removed_revision_id" is null;--> statement-breakpoint
CREATE INDEX "definitions_kind_active" ON "definitions" USING btree ("kind") WHERE "definitions"."removed_revision_id" is null;--> statement-breakpoint
CREATE INDEX "definitions_history" ON "definitions" USING btree ("source","added_revision_id");--> statement-breakpoint
CREATE INDEX "revisions_source_id" ON "revisions" USING btree ("source","id");