CREATE TABLE `expiry_votes` (
	`subtree` text NOT NULL,
	`height` integer NOT NULL,
	`round` text NOT NULL,
	`signer` text NOT NULL,
	`sig` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`round`, `signer`)
);
--> statement-breakpoint
CREATE INDEX `expiry_votes_height` ON `expiry_votes` (`subtree`,`height`);--> statement-breakpoint
CREATE TABLE `multisig_evidence` (
	`id` text PRIMARY KEY NOT NULL,
	`subtree` text NOT NULL,
	`signer` text NOT NULL,
	`height` integer NOT NULL,
	`body` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `multisig_evidence_subtree` ON `multisig_evidence` (`subtree`,`signer`);--> statement-breakpoint
CREATE TABLE `replica_halts` (
	`subtree` text PRIMARY KEY NOT NULL,
	`height` integer NOT NULL,
	`code` text NOT NULL,
	`detail` text NOT NULL,
	`evidence` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `replica_seen` (
	`subtree` text NOT NULL,
	`height` integer NOT NULL,
	`hash` text NOT NULL,
	`first_seen` integer NOT NULL,
	`expiry_sig` text,
	`voted_at` integer,
	PRIMARY KEY(`subtree`, `hash`)
);
--> statement-breakpoint
CREATE INDEX `replica_seen_height` ON `replica_seen` (`subtree`,`height`);--> statement-breakpoint
ALTER TABLE `halts` ADD `evidence` text;