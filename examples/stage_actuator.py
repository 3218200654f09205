"""A stage-like remote actuator that takes time to move, reports its position while moving and can
be stopped.

Run it on the instrument PC, against a TCPServer actuator plugin:

    python stage_actuator.py --host <PC running PyMoDAQ> --port 6342
"""
import argparse
import threading

from tcpbridge import ActuatorClient


class Stage(ActuatorClient):
    """Replace the motion loop with your controller's calls (move, is_moving, position, stop)."""

    SPEED = 2.0  # mm/s

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port, units='mm', dialect='pymodaq4')
        self.position = 0.0
        self.stopped = threading.Event()

    def get_position(self) -> float:
        return self.position

    def move_abs(self, target: float) -> float:
        """Called in a worker thread: stop_motion can arrive meanwhile."""
        self.stopped.clear()
        while abs(target - self.position) > 1e-9 and not self.stopped.is_set():
            step = min(abs(target - self.position), self.SPEED * 0.05)
            self.position += step if target > self.position else -step
            self.report_position()                     # PyMoDAQ shows the stage moving
            self.stopped.wait(0.05)
        return self.position                           # sent back as move_done

    def stop_motion(self) -> None:
        self.stopped.set()


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=6342)
    args = parser.parse_args()
    stage = Stage(args.host, args.port)
    thread = stage.start()                             # runs in the background
    try:
        while thread.is_alive():
            thread.join(1.0)
    except KeyboardInterrupt:
        stage.stop()                                   # stops a move, sends Quit, closes
        thread.join(5)
