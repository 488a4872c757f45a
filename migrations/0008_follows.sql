CREATE TABLE `follows` (
	`subtree` text PRIMARY KEY NOT NULL,
	`origin` text NOT NULL,
	`verify` text NOT NULL,
	`status` text NOT NULL,
	`origin_key` text NOT NULL,
	`origin_height` integer DEFAULT 0 NOT NULL,
	`verified_from` integer DEFAULT 0 NOT NULL,
	`halt` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `subtrees` ADD `origin` text;--> statement-breakpoint
ALTER TABLE `subtrees` ADD `verify` text;