-- Tree nodes move from hash keys (smt_nodes) to numbers in creation order (smt_tree), and roots get
-- a hash index of their own (smt_roots). Hand edits: WITHOUT ROWID on smt_roots, and the conversion
-- of existing nodes between the CREATEs and the DROP. It runs inside the one transaction of the
-- migration step (src/store/migrate.ts): a crash leaves the old table untouched, a restart redoes it.
CREATE TABLE `smt_roots` (
	`hash` blob PRIMARY KEY NOT NULL,
	`node` integer NOT NULL
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TABLE `smt_tree` (
	`id` integer PRIMARY KEY NOT NULL,
	`rec` blob NOT NULL
);
--> statement-breakpoint
-- Number every stored node (in hash order: the old layout knows no better one).
CREATE TEMP TABLE `smt_ids` (`hash` blob PRIMARY KEY NOT NULL, `id` integer NOT NULL) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `smt_ids` (`hash`, `id`) SELECT `hash`, row_number() OVER (ORDER BY `hash`) FROM `smt_nodes`;
--> statement-breakpoint
-- A leaf keeps its 65 bytes; an inner node gets its children's ids (big-endian id + 1, 0 = empty).
-- `||` makes text of blobs: the CAST takes the same bytes back as a blob.
INSERT INTO `smt_tree` (`id`, `rec`)
SELECT i.`id`, CASE WHEN substr(n.`bytes`, 1, 1) = x'01'
  THEN CAST(n.`bytes` || unhex(printf('%016x', coalesce(l.`id`, -1) + 1)) || unhex(printf('%016x', coalesce(r.`id`, -1) + 1)) AS BLOB)
  ELSE n.`bytes` END
FROM `smt_nodes` n
JOIN `smt_ids` i ON i.`hash` = n.`hash`
LEFT JOIN `smt_ids` l ON l.`hash` = substr(n.`bytes`, 2, 32)
LEFT JOIN `smt_ids` r ON r.`hash` = substr(n.`bytes`, 34, 32)
ORDER BY i.`id`;
--> statement-breakpoint
-- Every root a table names…
INSERT OR IGNORE INTO `smt_roots` (`hash`, `node`)
SELECT i.`hash`, i.`id` FROM `smt_ids` i WHERE i.`hash` IN (
  SELECT unhex(`state_root`) FROM `rounds`
  UNION SELECT unhex(`state_root`) FROM `proposals`
  UNION SELECT unhex(`root`) FROM `subtrees`
  UNION SELECT unhex(`global_root`) FROM `checkpoints`
  UNION SELECT unhex(`root`) FROM `checkpoint_entries`
  UNION SELECT unhex(`root`) FROM `replica_heads`
);
--> statement-breakpoint
-- …and every node no other node names, so a root kept anywhere else stays readable too.
INSERT OR IGNORE INTO `smt_roots` (`hash`, `node`)
SELECT i.`hash`, i.`id` FROM `smt_ids` i WHERE i.`hash` NOT IN (
  SELECT substr(`bytes`, 2, 32) FROM `smt_nodes` WHERE substr(`bytes`, 1, 1) = x'01'
  UNION ALL SELECT substr(`bytes`, 34, 32) FROM `smt_nodes` WHERE substr(`bytes`, 1, 1) = x'01'
);
--> statement-breakpoint
DROP TABLE `smt_ids`;
--> statement-breakpoint
DROP TABLE `smt_nodes`;
