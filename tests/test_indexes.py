"""``flask db indexes``: declared indexes created, superseded ones dropped, others kept."""

from crm.documents import CommunicationLog, Order


def test_indexes_command_creates_drops_superseded_and_reports(app):
    # Given a database from an earlier version: a superseded index, and one an operator made
    logs = CommunicationLog._get_collection()
    logs.create_index([("campaign_id", 1), ("status", 1)])
    logs.create_index([("to", 1)], name="operators_own")
    cli = app.test_cli_runner()

    result = cli.invoke(args=["db", "indexes"])

    assert result.exit_code == 0, result.output
    names = set(logs.index_information())
    assert "campaign_id_1_status_1" not in names
    assert {"campaign_id_1_status_1_updated_at_1", "operators_own"} <= names
    assert "order_date_-1__id_-1" in Order._get_collection().index_information()
    lines = result.output.splitlines()
    logs_line = next(line for line in lines if line.startswith("communication_logs: "))
    assert "campaign_id_1_status_1_updated_at_1" in logs_line
    assert "-campaign_id_1_status_1" in result.output
    assert "+order_date_-1__id_-1" in result.output

    # And run again, it changes nothing
    again = cli.invoke(args=["db", "indexes"])
    assert again.exit_code == 0 and "changed:" not in again.output
    assert set(logs.index_information()) == names
