"""What the console's tables (`DataTable`) share: the key of the row under the cursor, and a column whose width
follows the screen's."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey


def selected_key(table: DataTable[Any]) -> str | None:
    """The key of the row under the cursor (None: the table is empty)."""
    if not table.row_count:
        return None
    return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value


def set_column_width(table: DataTable[Any], column: str, width: int) -> bool:
    """Give `column` `width` cells; False when the table has no such column (yet)."""
    found = table.columns.get(ColumnKey(column))
    if found is None:
        return False
    found.width = width
    return True
