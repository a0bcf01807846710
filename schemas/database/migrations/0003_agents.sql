CREATE TABLE "agents" (
	"id" text PRIMARY KEY NOT NULL,
	"worker" text NOT NULL,
	"version" text,
	"runs" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"connected_at" timestamp with time zone NOT NULL,
	"last_seen_at" timestamp with time zone NOT NULL,
	"disconnected_at" timestamp with time zone
);
