CREATE TABLE `anchors` (
	`seq` integer PRIMARY KEY NOT NULL,
	`digest` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`proof` blob,
	`unsubmitted` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_at` integer NOT NULL,
	`last_error` text,
	`bitcoin_height` integer,
	`updated_at` integer NOT NULL,
	CONSTRAINT "anchors_status" CHECK("anchors"."status" IN ('pending', 'confirmed'))
);
--> statement-breakpoint
CREATE INDEX `anchors_due` ON `anchors` (`status`,`next_at`);--> statement-breakpoint
CREATE TABLE `checkpoint_entries` (
	`subtree` text NOT NULL,
	`seq` integer NOT NULL,
	`height` integer NOT NULL,
	`root` text NOT NULL,
	`round` text NOT NULL,
	PRIMARY KEY(`subtree`, `seq`)
);
--> statement-breakpoint
CREATE INDEX `checkpoint_entries_seq` ON `checkpoint_entries` (`seq`);--> statement-breakpoint
CREATE TABLE `checkpoints` (
	`seq` integer PRIMARY KEY NOT NULL,
	`hash` text NOT NULL,
	`body` text NOT NULL,
	`sig` text NOT NULL,
	`signer` text NOT NULL,
	`global_root` text NOT NULL,
	`leaf_hash` text NOT NULL,
	`log_root` text NOT NULL,
	`note` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `checkpoints_hash` ON `checkpoints` (`hash`);--> statement-breakpoint
CREATE TABLE `child_heads` (
	`parent` text NOT NULL,
	`height` integer NOT NULL,
	`child` text NOT NULL,
	`child_height` integer NOT NULL,
	`child_root` text NOT NULL,
	`child_round` text NOT NULL,
	PRIMARY KEY(`parent`, `height`, `child`)
);
--> statement-breakpoint
CREATE INDEX `child_heads_child` ON `child_heads` (`child`,`child_height`);