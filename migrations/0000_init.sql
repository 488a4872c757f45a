CREATE TABLE `events` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`type` text NOT NULL,
	`subtree` text,
	`data` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `events_subtree_seq` ON `events` (`subtree`,`seq`);--> statement-breakpoint
CREATE TABLE `lease` (
	`name` text PRIMARY KEY NOT NULL,
	`holder` text NOT NULL,
	`token` integer NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `rounds` (
	`subtree` text NOT NULL,
	`height` integer NOT NULL,
	`hash` text NOT NULL,
	`header` text NOT NULL,
	`signatures` text NOT NULL,
	`tx_ids` text NOT NULL,
	`state_root` text NOT NULL,
	`status` text DEFAULT 'final' NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`subtree`, `height`),
	FOREIGN KEY (`subtree`) REFERENCES `subtrees`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "rounds_status" CHECK("rounds"."status" IN ('final', 'proposed'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `rounds_hash` ON `rounds` (`hash`);--> statement-breakpoint
-- Hand edit: WITHOUT ROWID (drizzle has no flag for it). Keep it if this table is ever regenerated.
CREATE TABLE `smt_nodes` (
	`hash` blob PRIMARY KEY NOT NULL,
	`bytes` blob NOT NULL
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TABLE `smt_values` (
	`hash` blob PRIMARY KEY NOT NULL,
	`json` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `subtrees` (
	`id` text PRIMARY KEY NOT NULL,
	`parent` text NOT NULL,
	`owner` text NOT NULL,
	`name` text NOT NULL,
	`program` text NOT NULL,
	`config` text NOT NULL,
	`mode` text NOT NULL,
	`request` text NOT NULL,
	`status` text DEFAULT 'active' NOT NULL,
	`height` integer NOT NULL,
	`root` text NOT NULL,
	`head_hash` text NOT NULL,
	`log_size` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	CONSTRAINT "subtrees_status" CHECK("subtrees"."status" IN ('active', 'halted'))
);
--> statement-breakpoint
CREATE INDEX `subtrees_parent_id` ON `subtrees` (`parent`,`id`);--> statement-breakpoint
CREATE TABLE `txs` (
	`id` text PRIMARY KEY NOT NULL,
	`subtree` text NOT NULL,
	`seq` integer NOT NULL,
	`sender` text NOT NULL,
	`nonce` integer NOT NULL,
	`body` text NOT NULL,
	`accepted_at` integer NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`height` integer,
	`idx` integer,
	`code` text,
	FOREIGN KEY (`subtree`) REFERENCES `subtrees`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "txs_status" CHECK("txs"."status" IN ('pending', 'executed', 'failed'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `txs_subtree_seq` ON `txs` (`subtree`,`seq`);--> statement-breakpoint
CREATE UNIQUE INDEX `txs_subtree_sender_nonce` ON `txs` (`subtree`,`sender`,`nonce`);--> statement-breakpoint
CREATE INDEX `txs_pending` ON `txs` (`subtree`,`seq`) WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX `txs_round` ON `txs` (`subtree`,`height`,`idx`);