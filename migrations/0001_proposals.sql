CREATE TABLE `proposals` (
	`hash` text PRIMARY KEY NOT NULL,
	`subtree` text NOT NULL,
	`height` integer NOT NULL,
	`header` text NOT NULL,
	`tx_ids` text NOT NULL,
	`receipts` text NOT NULL,
	`state_root` text NOT NULL,
	`signatures` text NOT NULL,
	`status` text DEFAULT 'open' NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`subtree`) REFERENCES `subtrees`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "proposals_status" CHECK("proposals"."status" IN ('open', 'final', 'expired'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `proposals_one_open` ON `proposals` (`subtree`) WHERE status = 'open';--> statement-breakpoint
CREATE INDEX `proposals_subtree_height` ON `proposals` (`subtree`,`height`);