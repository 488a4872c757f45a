CREATE TABLE `programs` (
	`id` text PRIMARY KEY NOT NULL,
	`engine` text NOT NULL,
	`source` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `txs` ADD `gas` integer;