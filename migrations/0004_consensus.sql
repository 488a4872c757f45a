CREATE TABLE `evidence` (
	`id` text PRIMARY KEY NOT NULL,
	`subtree` text NOT NULL,
	`validator` text NOT NULL,
	`height` integer NOT NULL,
	`body` text NOT NULL,
	`tx` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `evidence_subtree_validator` ON `evidence` (`subtree`,`validator`);--> statement-breakpoint
CREATE TABLE `halts` (
	`subtree` text NOT NULL,
	`seq` integer NOT NULL,
	`height` integer NOT NULL,
	`halted_at` integer NOT NULL,
	`resumed_at` integer,
	`signatures` text NOT NULL,
	PRIMARY KEY(`subtree`, `seq`)
);
--> statement-breakpoint
CREATE TABLE `replica_heads` (
	`subtree` text PRIMARY KEY NOT NULL,
	`height` integer NOT NULL,
	`root` text NOT NULL,
	`head_hash` text NOT NULL,
	`header` text NOT NULL,
	`next_seq` integer NOT NULL,
	`request` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `replica_signed` (
	`subtree` text NOT NULL,
	`height` integer NOT NULL,
	`hash` text NOT NULL,
	`signed_at` integer NOT NULL,
	PRIMARY KEY(`subtree`, `height`, `hash`)
);
--> statement-breakpoint
CREATE INDEX `replica_signed_height` ON `replica_signed` (`subtree`,`height`);