-- An audit database written by the store before Alembic (assistant/audit.py at df2e8a8): two answers
-- and one feedback row, dumped with sqlite3's iterdump. tests/test_migrations.py upgrades it in place.
BEGIN TRANSACTION;
CREATE TABLE answers (
    id             INTEGER PRIMARY KEY,
    time           TEXT    NOT NULL,  -- UTC, ISO 8601
    answer_id      TEXT    NOT NULL,
    channel        TEXT    NOT NULL,
    corpus_version TEXT    NOT NULL,
    rule_ids       TEXT    NOT NULL,  -- JSON list of rule ids that fired
    quotes         TEXT    NOT NULL,  -- JSON [[document, start, end], ...]
    abstained      INTEGER NOT NULL,
    latency_ms     REAL    NOT NULL,
    question       TEXT               -- NULL unless store_question_text
, rules_version TEXT, rules TEXT, generator TEXT, model TEXT, shown_sha256 TEXT, shown TEXT, withheld TEXT, generated_sha256 TEXT, user TEXT);
INSERT INTO "answers" VALUES(1,'2026-11-30T15:05:08.861715+00:00','ab35970cd7e7499bad9df1a5cd9a9a42','api','v1','[]','[["mono", 10, 20]]',0,9.5,NULL,'r1','[]','extractive',NULL,'6afada2c7cf0c995a7d41aa7a54b4944ceff6c2e5a001f47ac19f78baabf54a7','Answer.','[]',NULL,'jdoe');
INSERT INTO "answers" VALUES(2,'2026-11-30T15:05:08.861998+00:00','e852d6b601da43958bde75efdadc95f9','ui','v1','["sos-discontinue"]','[["mono", 40, 50], ["mono", 10, 20]]',0,11.0,NULL,'r1','[["sos-discontinue", "discontinue", "verdict"]]','extractive',NULL,'c5b2ad65162507976837ec0f30d892802b5495e7afa5b7740948b43872ad003e','Stop.

Answer.','[]',NULL,NULL);
CREATE TABLE feedback (
    id             INTEGER PRIMARY KEY,
    time           TEXT    NOT NULL,
    answer_id      TEXT    NOT NULL,
    rating         TEXT    NOT NULL CHECK (rating IN ('up', 'down')),
    rule_ids       TEXT    NOT NULL,
    quotes         TEXT    NOT NULL,
    corpus_version TEXT    NOT NULL,
    comment        TEXT,              -- NULL unless store_question_text
    question       TEXT               -- NULL unless store_question_text
, user TEXT);
INSERT INTO "feedback" VALUES(1,'2026-11-30T15:05:08.862122+00:00','e852d6b601da43958bde75efdadc95f9','down','["sos-discontinue"]','[["mono", 40, 50], ["mono", 10, 20]]','v1',NULL,NULL,'jdoe');
CREATE INDEX answers_answer_id ON answers (answer_id);
CREATE INDEX answers_time ON answers (time);
CREATE INDEX feedback_time ON feedback (time);
COMMIT;
