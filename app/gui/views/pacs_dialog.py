"""File > Import from PACS…: find studies on a DICOMweb server and import chosen series into the project.

Server (address, user name, password or token, "Remember"), search fields, the studies found (the
patient's name is shown here, on screen only), the selected study's series with checkboxes, the
class to label them as, and Import with a progress bar and Cancel. Searching and importing run off
the GUI thread (:class:`app.gui.viewmodels.pacs.PacsViewModel`); errors are shown in the dialog.
"""

from __future__ import annotations

import datetime

from PySide6.QtCore import QDate, Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.viewmodels.pacs import PacsViewModel, TaskOutcome, import_summary, make_server, saved_server
from app.gui.viewmodels.project import ProjectViewModel
from core.errors import RareSightError
from core.pacs import PacsError, PacsImportReport, PacsServer, SeriesHit, StudyHit, StudyQuery, credentials

MODALITIES = ("", "CT", "MR", "CR", "DX", "US", "MG", "PT", "NM", "XA", "RF", "OT", "SC")
STUDY_COLUMNS = ("Date", "Modality", "Description", "Accession", "Series", "Instances", "Patient (on screen only)")
SERIES_COLUMNS = ("Import", "Series", "Modality", "Description", "Instances")
NO_CLASS = "(no class: import unlabelled)"
ERROR_STYLE = "color: #b00020;"


def _count(value: int | None) -> str:
    return "" if value is None else str(value)


def _item(text: str, align_right: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if align_right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def _table(columns: tuple[str, ...], stretch: int, tip: str, parent: QWidget) -> QTableWidget:
    """A read-only table, one row selected at a time; column ``stretch`` takes the spare width."""
    table = QTableWidget(0, len(columns), parent)
    table.setToolTip(tip)
    table.setHorizontalHeaderLabels(list(columns))
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    header.setStretchLastSection(False)
    return table


class PacsDialog(QDialog):
    """The import dialog; ``model`` is the window's project view-model (the import goes into its project)."""

    def __init__(self, project_model: ProjectViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import from PACS")
        self.setObjectName("pacsDialog")
        self.project_model = project_model
        self.model = PacsViewModel(project_model, self)
        self.study_hits: list[StudyHit] = []
        self.series_hits: list[SeriesHit] = []
        self._server: PacsServer | None = None  # the server the shown results came from
        self._lay_out()
        self._connect()
        self._restore_server()
        self._fill_classes()
        self._sync()
        self.resize(980, 720)

    # -- layout ---------------------------------------------------------------------------------------
    def _lay_out(self) -> None:
        layout = QVBoxLayout(self)
        layout.addWidget(self._server_box())
        layout.addWidget(self._search_box())
        tip = "Studies found; select one to list its series. Patient names are shown here only, never stored."
        self.studies = _table(STUDY_COLUMNS, 2, tip, self)
        self.series = _table(SERIES_COLUMNS, 3, "Tick the series to import", self)
        self.studies_title, self.series_title = QLabel("Studies", self), QLabel("Series of the selected study", self)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(_titled(self.studies_title, self.studies))
        splitter.addWidget(_titled(self.series_title, self.series))
        splitter.setSizes([300, 200])
        layout.addWidget(splitter, 1)
        layout.addLayout(self._import_row())
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.message)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        layout.addWidget(self.buttons)

    def _server_box(self) -> QGroupBox:
        box = QGroupBox("Server", self)
        form = QFormLayout(box)
        self.url = QLineEdit(box)
        self.url.setPlaceholderText("http://pacs.example.org/dicom-web")
        self.url.setToolTip("The DICOMweb (QIDO-RS / WADO-RS) address of the archive; ask your PACS administrator")
        self.username = QLineEdit(box)
        self.username.setPlaceholderText("optional")
        self.secret = QLineEdit(box)
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret.setPlaceholderText("optional; with a user name its password, without one an access token")
        self.remember = QCheckBox("Remember the password in the system keyring", box)
        self.remember.setToolTip("Kept by the operating system's keyring, never in the project, the settings or the log")
        secret_row = QHBoxLayout()
        secret_row.addWidget(self.secret, 1)
        secret_row.addWidget(self.remember)
        form.addRow("DICOMweb address", self.url)
        form.addRow("User name", self.username)
        form.addRow("Password or token", secret_row)
        return box

    def _search_box(self) -> QGroupBox:
        box = QGroupBox("Search studies", self)
        form = QFormLayout(box)
        today = QDate.currentDate()
        self.use_from, self.use_to = QCheckBox("from", box), QCheckBox("to", box)
        self.date_from, self.date_to = QDateEdit(today.addYears(-1), box), QDateEdit(today, box)
        dates = QHBoxLayout()
        for check, edit in ((self.use_from, self.date_from), (self.use_to, self.date_to)):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setEnabled(False)
            check.toggled.connect(edit.setEnabled)
            dates.addWidget(check)
            dates.addWidget(edit)
        dates.addStretch(1)
        self.modality = QComboBox(box)
        self.modality.setEditable(True)
        self.modality.addItems(list(MODALITIES))
        self.modality.setToolTip("Empty: any modality")
        self.modality.setMinimumContentsLength(8)
        self.modality.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.description = QLineEdit(box)
        self.description.setPlaceholderText("any; part of the study description, e.g. chest")
        self.accession = QLineEdit(box)
        self.accession.setPlaceholderText("any")
        self.search_button = QPushButton("Search", box)
        self.search_button.setDefault(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("Modality", box))
        row.addWidget(self.modality)
        row.addWidget(QLabel("Accession number", box))
        row.addWidget(self.accession, 1)
        row.addWidget(self.search_button)
        form.addRow("Study date", dates)
        form.addRow("Study description", self.description)
        form.addRow("", row)
        return box

    def _import_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.class_box = QComboBox(self)
        self.class_box.setToolTip("Label every imported image with this class, or import them unlabelled")
        self.import_button = QPushButton("Import", self)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop the search or the import; a cancelled import leaves the project unchanged")
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(True)
        row.addWidget(QLabel("Label as", self))
        row.addWidget(self.class_box)
        row.addWidget(self.progress, 1)
        row.addWidget(self.import_button)
        row.addWidget(self.cancel_button)
        return row

    def _connect(self) -> None:
        model = self.model
        self.search_button.clicked.connect(self.search)
        self.studies.itemSelectionChanged.connect(self._on_study_selected)
        self.series.itemChanged.connect(lambda *_: self._sync())
        self.import_button.clicked.connect(self.start_import)
        self.cancel_button.clicked.connect(self.cancel)
        self.buttons.rejected.connect(self.reject)
        self.username.editingFinished.connect(self._recall_secret)
        self.url.editingFinished.connect(self._recall_secret)
        model.studiesFound.connect(self._show_studies)
        model.seriesFound.connect(self._show_series)
        model.searchFailed.connect(self._show_error)
        model.searchingChanged.connect(lambda *_: self._sync())
        model.importer.runningChanged.connect(lambda *_: self._sync())
        model.importer.progress.connect(self._on_progress)
        model.importer.finished.connect(self._on_imported)
        self.project_model.stateChanged.connect(self._fill_classes)

    # -- server and search --------------------------------------------------------------------------
    def _restore_server(self) -> None:
        url, username = saved_server()
        self.url.setText(url)
        self.username.setText(username)
        self._recall_secret()

    @Slot()
    def _recall_secret(self) -> None:
        """Fill in the password the keyring keeps for this address and user, if any (and none is typed)."""
        url = self.url.text().strip()
        if not url or self.secret.text():
            return
        try:
            secret = credentials.recall_secret(make_server(url, "", "").display_url, self.username.text().strip())
        except RareSightError:
            return  # no usable keyring: the user types it
        if secret:
            self.secret.setText(secret)
            self.remember.setChecked(True)

    def current_server(self) -> PacsServer:
        """The server as the fields describe it; PacsError with what to fix when they cannot."""
        return make_server(self.url.text(), self.username.text(), self.secret.text())

    def query(self) -> StudyQuery:
        def day(check: QCheckBox, edit: QDateEdit) -> datetime.date | None:
            if not check.isChecked():
                return None
            date = edit.date()
            return datetime.date(date.year(), date.month(), date.day())

        return StudyQuery(
            date_from=day(self.use_from, self.date_from),
            date_to=day(self.use_to, self.date_to),
            modality=self.modality.currentText().strip().upper() or None,
            description=self.description.text().strip() or None,
            accession=self.accession.text().strip() or None,
        )

    @Slot()
    def search(self) -> None:
        try:
            server, query = self.current_server(), self.query()
        except PacsError as exc:
            self._show_error(str(exc))
            return
        if query.date_from and query.date_to and query.date_from > query.date_to:
            self._show_error("The 'from' date is after the 'to' date; swap them")
            return
        self._server = server
        self._set_message(f"Searching {server.display_url}…")
        self.model.search(server, query, self.remember.isChecked())

    @Slot(list, str)
    def _show_studies(self, hits: list[StudyHit], note: str) -> None:
        self.study_hits = hits
        self.series_hits = []
        self.series.setRowCount(0)
        self.studies.setRowCount(len(hits))
        for row, hit in enumerate(hits):
            cells = (
                (hit.date.isoformat() if hit.date else "", False),
                ("/".join(hit.modalities), False),
                (hit.description, False),
                (hit.accession, False),
                (_count(hit.series), True),
                (_count(hit.instances), True),
                (hit.patient_name.replace("^", " ").strip(), False),
            )
            for column, (text, right) in enumerate(cells):
                self.studies.setItem(row, column, _item(text, right))
        self.studies_title.setText(f"Studies ({len(hits)})")
        found = f"{len(hits)} stud{'y' if len(hits) == 1 else 'ies'} found"
        self._set_message(f"{found}; select one to list its series." if hits else "No study matches; widen the search.")
        if note:
            self._set_message(f"{self.message.text()} {note}", error=True)
        if hits:
            self.studies.selectRow(0)
        self._sync()

    @Slot()
    def _on_study_selected(self) -> None:
        hit = self.selected_study()
        self.series_hits = []
        self.series.setRowCount(0)
        self.series_title.setText("Series of the selected study")
        if hit is not None and self._server is not None and not self.model.importer.running:
            self.model.list_series(self._server, hit.study_uid)
        self._sync()

    def selected_study(self) -> StudyHit | None:
        rows = self.studies.selectionModel().selectedRows()
        return self.study_hits[rows[0].row()] if rows and rows[0].row() < len(self.study_hits) else None

    @Slot(str, list)
    def _show_series(self, study_uid: str, hits: list[SeriesHit]) -> None:
        study = self.selected_study()
        if study is None or study.study_uid != study_uid:
            return  # the selection moved on; its own listing follows
        self.series_hits = hits
        self.series.blockSignals(True)
        self.series.setRowCount(len(hits))
        for row, hit in enumerate(hits):
            tick = QTableWidgetItem()
            tick.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            tick.setCheckState(Qt.CheckState.Checked)
            self.series.setItem(row, 0, tick)
            self.series.setItem(row, 1, _item(_count(hit.number), True))
            self.series.setItem(row, 2, _item(hit.modality))
            self.series.setItem(row, 3, _item(hit.description))
            self.series.setItem(row, 4, _item(_count(hit.instances), True))
        self.series.blockSignals(False)
        total = sum(h.instances or 0 for h in hits)
        self.series_title.setText(f"Series of the selected study ({len(hits)}, {total} instance(s))")
        self._sync()

    def checked_series(self) -> list[str]:
        return [
            hit.series_uid
            for row, hit in enumerate(self.series_hits)
            if (item := self.series.item(row, 0)) is not None and item.checkState() == Qt.CheckState.Checked
        ]

    # -- import -------------------------------------------------------------------------------------
    @Slot()
    def _fill_classes(self) -> None:
        current = self.class_box.currentText()
        self.class_box.clear()
        self.class_box.addItem(NO_CLASS)
        self.class_box.addItems(self.project_model.classes.names())
        if current and self.class_box.findText(current) >= 0:
            self.class_box.setCurrentText(current)

    def class_name(self) -> str | None:
        return None if self.class_box.currentIndex() <= 0 else self.class_box.currentText()

    @Slot()
    def start_import(self) -> None:
        study, series = self.selected_study(), self.checked_series()
        if study is None or not series or self._server is None:
            self._set_message("Select a study and tick the series to import.", error=True)
            return
        self.progress.setValue(0)
        why = self.model.start_import(self._server, study.study_uid, series, self.class_name())
        if why:
            self._set_message(why, error=True)
            return
        self._set_message(f"Importing {len(series)} series from {self._server.display_url}…")

    @Slot(float, str)
    def _on_progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(round(100 * fraction))
        self.progress.setFormat(f"{text} (%p%)" if text else "%p%")

    @Slot(object)
    def _on_imported(self, outcome: TaskOutcome) -> None:
        self.progress.setFormat("%p%")
        report = outcome.value
        if outcome.error:
            self.progress.setValue(0)
            self._set_message(outcome.error, error=True)
        elif outcome.cancelled or not isinstance(report, PacsImportReport):
            self.progress.setValue(0)
            self._set_message("Import cancelled; the project is unchanged.")
        else:
            self.progress.setValue(100)
            failed = "".join(f"\n{reason}" for reason in report.failed[:5])
            more = f"\n… and {len(report.failed) - 5} more" if len(report.failed) > 5 else ""
            self._set_message(f"{import_summary(report)}.{failed}{more}", error=bool(report.failed))

    @Slot()
    def cancel(self) -> None:
        if self.model.importer.running:
            self.model.importer.cancel()
            self._set_message("Cancelling the import…")
        elif self.model.searching:
            self.model.cancel_search()
            self._set_message("Search cancelled.")

    # -- state ----------------------------------------------------------------------------------------
    @Slot(str)
    def _show_error(self, message: str) -> None:
        self._set_message(message, error=True)

    def _set_message(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(ERROR_STYLE if error else "")

    def _sync(self) -> None:
        importing, searching = self.model.importer.running, self.model.searching
        has_project = self.project_model.project is not None
        for widget in (self.url, self.username, self.secret, self.remember, self.search_button, self.studies, self.series, self.class_box):
            widget.setEnabled(not importing)
        self.import_button.setEnabled(has_project and not importing and not searching and bool(self.checked_series()))
        self.import_button.setToolTip("" if has_project else "Open or create a project first")
        self.cancel_button.setEnabled(importing or searching)

    def reject(self) -> None:
        """Close: a running search stops; a running import is cancelled (it leaves the project unchanged)."""
        if self.model.importer.running:
            self.model.importer.cancel()
        self.model.shutdown()
        super().reject()


def _titled(title: QLabel, body: QWidget) -> QWidget:
    holder = QWidget(title.parentWidget())
    layout = QVBoxLayout(holder)
    layout.setContentsMargins(0, 4, 0, 0)
    layout.addWidget(title)
    layout.addWidget(body)
    return holder
