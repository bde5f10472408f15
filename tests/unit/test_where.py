"""``where`` is one expression over the table's columns, rendered again before it runs."""

from __future__ import annotations

import copy

import pytest
from rest_framework.test import APIClient

from jobs.models import Job
from replication.config import SchemaRule, TableRule
from replication.errors import ConfigError
from replication.scope.filters import TableFilter
from replication.scope.where import checked_where
from tests.support.api_examples import MIGRATION_REQUEST


@pytest.mark.parametrize(("where", "reason"), [
    ("id > 0; DROP TABLE t", "one expression only, not statements"),
    ("1) UNION SELECT password FROM mysql.user -- ", "comments are not allowed"),
    ("id > 0 /* note */", "comments are not allowed"),
    ("/*!50000 SLEEP(5) */ 1", "comments are not allowed"),
    ("id > 0 # trailing", "comments are not allowed"),
    ("id IN (SELECT id FROM secrets)", "subqueries are not allowed"),
    ("EXISTS (SELECT 1 FROM mysql.user)", "subqueries are not allowed"),
    ("id = 1 UNION SELECT 2", "subqueries are not allowed"),
    ("SLEEP(5) = 0", "function SLEEP is not allowed"),
    ("BENCHMARK(100000000, MD5('x')) = 0", "function BENCHMARK is not allowed"),
    ("GET_LOCK('x', 10) = 1", "function GET_LOCK is not allowed"),
    ("LOAD_FILE('/etc/passwd') IS NOT NULL", "function LOAD_FILE is not allowed"),
    ("my_udf(id) = 1", "function MY_UDF is not allowed"),
    ("CASE WHEN id = 1 THEN SLEEP(1) END", "function SLEEP is not allowed"),
    ("id = @@hostname", "SessionParameter is not allowed in a row filter"),
    ("id = @v", "Parameter is not allowed in a row filter"),
    ("id := 1", "PropertyEQ is not allowed in a row filter"),
    ("other.id = 1", "name columns without a table (other.id)"),
    ("name = '\\' OR SLEEP(1) OR '", "backslashes in string literals are not allowed"),
    ("id >", "cannot be read as SQL"),
])
def test_hostile_where_is_refused_with_a_reason(where: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        checked_where(where)
    assert str(caught.value).startswith(f"where: {reason}")


@pytest.mark.parametrize(("where", "rendered"), [
    ("id > 10 AND name LIKE 'a%'", "`id` > 10 AND `name` LIKE 'a%'"),
    ("`we``ird` = 'it''s'", "`we``ird` = 'it''s'"),
    ("IFNULL(n, 0) BETWEEN 1 AND 5", "COALESCE(`n`, 0) BETWEEN 1 AND 5"),
    ("name REGEXP '^a' OR id IN (1, 2)", "(`name` REGEXP '^a') OR `id` IN (1, 2)"),
    ("created >= '2024-01-01' + INTERVAL 1 DAY", "`created` >= '2024-01-01' + INTERVAL '1' DAY"),
    ("  ", ""),
])
def test_accepted_where_is_rendered_with_quoted_names(where: str, rendered: str) -> None:
    assert checked_where(where) == rendered


def test_the_engine_uses_the_rendered_where_and_refuses_a_stored_bad_one() -> None:
    rule = SchemaRule(table_schema="s", tables=(TableRule(table_name="t", where="id>1"),))
    mapping = TableFilter((rule,)).match("s", "t")
    assert mapping is not None and mapping.where == "`id` > 1"
    bad = SchemaRule(table_schema="s", tables=(TableRule(table_name="t", where="SLEEP(1)"),))
    with pytest.raises(ConfigError, match="function SLEEP"):
        TableFilter((bad,))


@pytest.mark.django_db
def test_the_api_answers_400_naming_the_where_field(api_client: APIClient) -> None:
    body = copy.deepcopy(MIGRATION_REQUEST)
    body["src_task"]["replicate_do_db"] = [
        {"table_schema": "db1", "tables": [{"table_name": "t", "where": "id > (SELECT 1)"}]}]
    response = api_client.post("/v2/job/migration", {"migration_job_config": body},
                               format="json")
    assert response.status_code == 400
    assert response.json() == {"message": "src_task.replicate_do_db[0].tables[0].where: "
                                          "subqueries are not allowed"}
    assert not Job.objects.exists()
