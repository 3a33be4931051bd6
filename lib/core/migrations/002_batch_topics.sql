-- Offline scoring (swarm-producer score, docs/scoring.md) runs on its own
-- request and result topics, served by its own consumer group, so a
-- backfill never queues in front of online requests.  The deployment names
-- them; workers started on the batch topic serve every model whose
-- deployment names it (as for request_topic).
ALTER TABLE registry.deployments
        ADD COLUMN batch_request_topic text,
        ADD COLUMN batch_result_topic  text;
CREATE INDEX deployments_batch_request_topic
        ON registry.deployments (batch_request_topic);
