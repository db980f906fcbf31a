"""Playback in the review window: the current frame, play / pause / speed, stepping, events, marks.

``PlaybackController`` owns the frame on screen (``frame_index``) and the playing state. It shows
a frame with its error overlay, moves the playhead and keeps the event selection in step
(``show_frame``); plays forwards and backwards at the transport's speed on a precise timer driven
by a ``PlaybackClock`` (a slow repaint skips frames instead of slowing the video); steps, jumps to
the first / last frame and the next / previous flagged event; and marks the frames an operator
calls normal for training (I / O). Its actions and keys are added to the window here.

Example::

    window.playback.seek(120)
    window.playback.play(-1)          # backwards
    window.playback.next_event()
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer

from app.controllers.playback_clock import PlaybackClock
from app.widgets.icons import media_icon
from app.widgets.transport import SPEEDS
from vad_core.errors import VadError

if TYPE_CHECKING:
    from app.windows.review_window import ReviewWindow

#: Playback actions, in the order of the Playback menu and of the help dialog.
PLAYBACK_ACTIONS = (
    "play",
    "reverse",
    "pause",
    "forward",
    "step_back",
    "step_forward",
    "previous_event",
    "next_event",
    "first_frame",
    "last_frame",
    "slower",
    "faster",
)
#: Training marks (Playback menu, after a separator).
MARK_ACTIONS = ("mark_in", "mark_out", "clear_marks")
#: Actions that need an open video (the speed can be set before one is open).
SOURCE_ACTIONS = (*(name for name in PLAYBACK_ACTIONS if name not in ("slower", "faster")), *MARK_ACTIONS)


class PlaybackController(QObject):
    """The current frame and playback of the review window (see the module docstring)."""

    def __init__(self, window: ReviewWindow) -> None:
        super().__init__(window)
        self.window = window
        self.frame_index = 0
        self.frames_shown = 0  # playback benchmark counter
        self.playing = False
        self.clock = PlaybackClock()
        self.mark_start: int | None = None
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self._add_actions()

    def _add_actions(self) -> None:
        a = self.window.add_action
        a("play", "Play / pause", self.toggle_play, ("Space",), media_icon("play"))
        a("reverse", "Play backwards (again: faster)", self.play_reverse, ("J",))
        a("pause", "Pause", self.pause, ("K",))
        a("forward", "Play forwards (again: faster)", self.play_forward, ("L",))
        a("step_back", "Step one frame back", self.step_back, ("Left", ","), media_icon("step_back"))
        a(
            "step_forward",
            "Step one frame forward",
            self.step_forward,
            ("Right", "."),
            media_icon("step_forward"),
        )
        a(
            "previous_event",
            "Previous event",
            self.previous_event,
            ("Shift+Left",),
            media_icon("previous_event"),
        )
        a("next_event", "Next event", self.next_event, ("Shift+Right",), media_icon("next_event"))
        a("first_frame", "First frame", lambda: self.seek(0), ("Home",))
        a("last_frame", "Last frame", lambda: self.seek(self.window.session.frame_count - 1), ("End",))
        a("slower", "Slower", lambda: self.change_speed(-1), ("[",))
        a("faster", "Faster", lambda: self.change_speed(+1), ("]",))
        a("mark_in", "Mark normal frames from here", self.mark_in, ("I",))
        a("mark_out", "Mark normal frames up to here", self.mark_out, ("O",))
        a("clear_marks", "Clear normal marks", self.clear_marks)
        a("zoom_all", "Show the whole timeline", self.zoom_timeline_all, ("0",))

    def source_opened(self) -> None:
        """A new video: its frame rate, no training mark pending."""
        self.mark_start = None
        self.clock.fps = self.window.session.fps

    # ================================================================================ the frame on screen
    def show_frame(self, index: int) -> None:
        """Display frame ``index`` (clamped) with its overlay; move the playhead; sync the event selection."""
        window, session = self.window, self.window.session
        if session.source is None:
            return
        index = int(min(max(0, index), session.frame_count - 1))
        self.frame_index = index
        try:
            frame = session.source.frame(index)
        except VadError as error:
            self.pause()
            window.show_error("Cannot read frame", str(error))
            return
        window.video_view.set_frame(frame)
        self.update_overlay()
        window.timeline.set_playhead(index)
        if self.playing:
            window.timeline.keep_visible(index)
        score = session.frame_score(index)
        extra = f"score {score:.2f}" if score is not None else ""  # the anomaly score (tooltip)
        window.transport.set_position(index, session.frame_count, session.fps, extra)
        selected = session.event_at(index)
        if selected != window.timeline.events.selected:
            window.timeline.select_event(selected)
            window.events_table.select_event(selected)
        self.update_caption()
        self.frames_shown += 1
        if window.side_dock.isVisible():
            window.recon.request(index)
        window.explainer.refresh()  # the explainability panel follows the frame (when shown)

    def update_overlay(self) -> None:
        """The error map of the frame on screen, over the frame and in the side-by-side view."""
        window = self.window
        if window.video_view.overlay_visible:
            window.video_view.set_overlay(window.session.overlay(self.frame_index))
        if window.side_dock.isVisible():
            error = window.session.error_map(self.frame_index)
            if error is not None:
                window.side_by_side.set_error(error)

    def update_caption(self) -> None:
        """The line over the frame: inside which event, and the ground truth's kind of anomaly."""
        session = self.window.session
        parts = []
        index = session.event_at(self.frame_index)
        if index is not None:
            parts.append(f"<span style='color:#ef5350'>■ event {index + 1}</span>")
        if session.ground_truth is not None and session.ground_truth[self.frame_index]:
            kind = ""
            if session.categories is not None and session.categories[self.frame_index]:
                kind = f": {session.categories[self.frame_index]}"
            parts.append(f"<span style='color:#ffb74d'>■ ground truth{kind}</span>")
        self.window.video_view.set_caption("&nbsp;&nbsp;".join(parts))

    # ================================================================================ moving
    def seek(self, index: int) -> None:
        if self.window.session.source is None:
            return
        self.show_frame(index)
        if self.playing:
            self.clock.start(self.frame_index, self.clock.direction)

    def step_back(self) -> None:
        self.pause()
        self.seek(self.frame_index - 1)

    def step_forward(self) -> None:
        self.pause()
        self.seek(self.frame_index + 1)

    def toggle_play(self) -> None:
        if self.playing:
            self.pause()
        else:
            self.play(1)

    def play(self, direction: int = 1) -> None:
        session = self.window.session
        if session.source is None:
            return
        last = session.frame_count - 1
        if direction > 0 and self.frame_index >= last:
            self.show_frame(0)
        elif direction < 0 and self.frame_index <= 0:
            self.show_frame(last)
        self.playing = True
        self.clock.start(self.frame_index, direction, self.window.transport.current_speed())
        self.timer.start(self.clock.tick_interval_ms())
        self.window.actions_by_name["play"].setIcon(media_icon("pause"))

    def pause(self) -> None:
        window = self.window
        was_playing = self.playing
        self.playing = False
        self.timer.stop()
        window.actions_by_name["play"].setIcon(media_icon("play"))
        if was_playing and window.side_dock.isVisible() and window.session.source is not None:
            window.recon.request(self.frame_index)  # the throttled one may have been skipped

    def play_forward(self) -> None:
        """L: play forwards; pressed again while playing forwards, faster."""
        if self.playing and self.clock.direction > 0:
            self.change_speed(+1)
        else:
            self.play(1)

    def play_reverse(self) -> None:
        """J: play backwards; pressed again while playing backwards, faster."""
        if self.playing and self.clock.direction < 0:
            self.change_speed(+1)
        else:
            self.play(-1)

    def change_speed(self, step: int) -> None:
        transport = self.window.transport
        current = SPEEDS.index(transport.current_speed())
        transport.set_speed(SPEEDS[min(len(SPEEDS) - 1, max(0, current + step))])

    def set_speed(self, speed: float) -> None:
        """The transport's speed changed: playback follows at once."""
        self.clock.start(self.frame_index, self.clock.direction, speed)
        if self.playing:
            self.timer.start(self.clock.tick_interval_ms())
        self.window.notify(f"Speed {speed:g}×", 2000)

    def _tick(self) -> None:
        target = self.clock.frame_now()
        last = self.window.session.frame_count - 1
        if target != self.frame_index:
            self.show_frame(min(max(0, target), last))
        if (self.clock.direction > 0 and target >= last) or (self.clock.direction < 0 and target <= 0):
            self.pause()

    # ================================================================================ events
    def _no_event(self, which: str) -> None:
        complete = self.window.session.complete
        self.window.notify(
            f"No {which} event." if complete else "No events yet (the video is not scored).", 3000
        )

    def next_event(self) -> None:
        event = self.window.session.next_event(self.frame_index)
        if event is None:
            self._no_event("later")
            return
        self.seek(event.start)

    def previous_event(self) -> None:
        event = self.window.session.previous_event(self.frame_index)
        if event is None:
            self._no_event("earlier")
            return
        self.seek(event.start)

    def go_to_event(self, index: int) -> None:
        events = self.window.session.events
        if 0 <= index < len(events):
            self.pause()
            self.seek(events[index].start)

    def zoom_timeline_all(self) -> None:
        self.window.timeline.plot.setXRange(0, max(1, self.window.session.frame_count - 1), padding=0.01)

    # ================================================================================ normal marks (training)
    def mark_in(self) -> None:
        self.mark_start = self.frame_index
        self.window.notify(
            f"Normal frames from {self.frame_index}: go to the last normal frame and press O.", 8000
        )

    def mark_out(self) -> None:
        window, session = self.window, self.window.session
        if session.source is None:
            return
        start = self.mark_start if self.mark_start is not None else 0
        session.mark_normal(start, self.frame_index + 1)
        self.mark_start = None
        window.timeline.band("normal").set_intervals(session.normal_ranges)
        frames = sum(b - a for a, b in session.normal_ranges)
        window.notify(f"{frames} frames marked normal ({len(session.normal_ranges)} ranges) for training.")

    def clear_marks(self) -> None:
        self.window.session.clear_normal()
        self.window.timeline.band("normal").set_intervals([])
