"""Running batch tasks: in this process, in finishing order, with failures reported per file."""

from stemlayers.runner import run_tasks, timeout_message


def _square(file, offset):
    return {"file": file, "value": int(file) ** 2 + offset}


def test_in_process_every_file_once_with_its_arguments():
    rows, failures = [], []
    run_tasks(["1", "2", "3"], _square, (10,), rows.append, lambda f, m: failures.append((f, m)))
    assert rows == [{"file": "1", "value": 11}, {"file": "2", "value": 14}, {"file": "3", "value": 19}]
    assert failures == []


def test_nothing_to_do_runs_nothing():
    rows = []
    run_tasks([], _square, (0,), rows.append, None)
    assert rows == []


def test_the_timeout_message_names_the_file_and_the_limit():
    text = timeout_message("slow.tif", 30)
    assert "slow.tif" in text and "30" in text
