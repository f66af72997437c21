"""The panel's grid without a browser: selections through the grid's own traits, as the browser sets them."""
from __future__ import annotations


def test_a_shift_click_range_selects_every_row_in_it(panel):
    """A shift-click gives one rectangle over several rows; each of them is selected, in visible order."""
    grid = panel.view.control("table")
    order = list(grid.data.index)
    assert len(order) >= 3
    grid.selections = [{"r1": 0, "r2": 2, "c1": 0, "c2": 6}]
    assert panel.state.selected_ids == order[:3]
    assert "and 2 more selected" in panel.view.control("details").value
    grid.selections = [{"r1": 0, "r2": 0, "c1": 0, "c2": 6}, {"r1": 2, "r2": 2, "c1": 0, "c2": 6}]  # ctrl-click
    assert panel.state.selected_ids == [order[0], order[2]]


def test_a_selection_in_a_sorted_grid_is_mapped_through_the_browsers_order(panel):
    """The browser sorts and reports the new row order in ``_visible_rows``; selections index that order."""
    grid = panel.view.control("table")
    order = list(grid.data.index)
    backwards = list(range(len(order)))[::-1]
    grid._visible_rows = backwards                      # what the browser sends after a sort
    grid.selections = [{"r1": 0, "r2": 1, "c1": 0, "c2": 6}]
    assert panel.state.selected_ids == [order[-1], order[-2]]
    panel.state.selected_ids = [order[0]]               # the kernel selects (e.g. a new dataset)
    assert grid.selections == [{"r1": len(order) - 1, "r2": len(order) - 1, "c1": 0, "c2": 6}]
    grid._visible_rows = list(range(len(order)))        # sorted back: the highlight follows the dataset
    assert grid.selections == [{"r1": 0, "r2": 0, "c1": 0, "c2": 6}] and panel.state.selected_ids == [order[0]]


def test_a_status_update_keeps_the_selection(panel, select_rows):
    """A row changing (the poller, an export) redraws the grid; the selected ids stay selected."""
    grid = panel.view.control("table")
    first, second = list(grid.data.index)[:2]
    select_rows(panel, [first, second])
    row = dict(panel.state.row(second), export_count=99)
    panel.state.upsert_row(row)
    assert grid.data.loc[second, "exports"] == 99
    assert panel.state.selected_ids == [first, second]
    assert grid.selections == [{"r1": 0, "r2": 0, "c1": 0, "c2": 6}, {"r1": 1, "r2": 1, "c1": 0, "c2": 6}]
    grid.selections = []                                # the browser's echo of the emptied old selection
    assert panel.state.selected_ids == [first, second] and len(grid.selections) == 2


def test_the_panel_is_a_widget_and_goes_inside_others(panel):
    import ipywidgets as widgets

    assert isinstance(panel, widgets.VBox) and isinstance(panel, widgets.Widget)
    box = widgets.HBox([panel])
    data = box._repr_mimebundle_()
    data = data[0] if isinstance(data, tuple) else data
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == box.model_id
    assert box.children[0] is panel and panel.view in panel.children
    assert "aion-panel" in panel._dom_classes
