"""Seconds per scan point: DAQ_Scan through the bridge (remote demo clients in their own processes)
against the same scan with PyMoDAQ's own Mock plugins, each in a fresh process, in one run.

Kinds: ``bridge`` (TCPServer plugins + ``tcpbridge`` demo clients, instantaneous stage),
``mock`` (DAQ_Move_Mock + DAQ_0DViewer_Mock, PyMoDAQ defaults: the Mock stage is polled every
100 ms), ``mock-fast`` (the same with 5 ms polling and tau 0: PyMoDAQ's own per-point cost).
``python bench_scan.py`` runs all three; ``--profile KIND`` prints where the time goes.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from report import row

POINTS = 41
HERE = Path(__file__).parent


def run_one(kind: str, out: Path) -> float:
    """In this process: one scan of ``kind``; returns seconds per point."""
    os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')
    os.environ.setdefault('QT_LOGGING_RULES', 'qt.qpa.*=false;default.warning=false')
    from pymodaq_plugins_tcpbridge.apps.pymodaq_home import redirect_pymodaq_config
    workdir = Path(tempfile.mkdtemp(prefix='tcpbridge-bench-scan-'))
    redirect_pymodaq_config(workdir / 'pymodaq', save_path=workdir / 'data')
    if kind == 'mock-fast':
        config = workdir / 'pymodaq' / 'home' / '.pymodaq' / 'config'
        config.mkdir(parents=True, exist_ok=True)
        (config / 'pymodaq.toml').write_text('[actuator]\npolling_interval_ms = 5\n')
    from pymodaq.utils.managers.experiment.experiment_manager import ExperimentManager
    from pymodaq_gui.parameter import Parameter, ioxml
    from pymodaq_gui.qt_utils import mkQApp

    from pymodaq_plugins_tcpbridge.apps.scan import Session
    from pymodaq_plugins_tcpbridge.apps.scan_check import check_file
    from pymodaq_plugins_tcpbridge.apps.scan_options import Deadline, ScanOptions

    mkQApp('bench')
    options = ScanOptions(points=POINTS, out=out, noise=0.0)
    session = Session(options, Deadline(600), workdir)
    try:
        if kind == 'bridge':
            session.load()
            session.init_modules()
            session.start_clients()
            session.wait_clients()
        else:
            experiment = Parameter.create(title='Experiment', name='Preset', type='group',
                                          children=ExperimentManager.params)
            actuators, detectors = experiment.child('actuator'), experiment.child('detector')
            actuators.addNew(('Mock',))
            actuators.children()[-1]['name'] = 'Stage'
            detectors.addNew(('DAQ0D', 'Mock'))
            detectors.children()[-1]['name'] = 'Detector'
            path = workdir / 'mock.xml'
            ioxml.parameter_to_xml_file(experiment, path, overwrite=True)
            session.load_experiment(path)  # Mock modules initialise themselves (init on)
            session.deadline.wait(lambda: session.actuators[0].initialized_state and
                                  session.detector.initialized_state, 'the Mock plugins', 60)
            if kind == 'mock-fast':
                session.actuators[0].settings.child('actuator_settings', 'tau').setValue(1)  # ms
        path = session.scan()
        return check_file(path, session, session.received, session.scan_seconds).seconds_per_point
    finally:
        session.close()


def main() -> dict:
    per_point = {}
    with tempfile.TemporaryDirectory() as out:
        for kind in ('bridge', 'mock', 'mock-fast'):
            done = subprocess.run([sys.executable, __file__, '--one', kind, '--out', out],
                                  capture_output=True, text=True, timeout=900)
            line = [x for x in done.stdout.splitlines() if x.startswith('{')]
            if done.returncode or not line:
                raise RuntimeError(f'{kind} scan failed:\n{done.stdout}\n{done.stderr}')
            per_point[kind] = 1000 * json.loads(line[-1])['seconds_per_point']
    case = f'DAQ_Scan, {POINTS} points, headless, per point'
    return {'rows': [
        row('PyMoDAQ Mock plugins (local, 1 ms stage)', case, 'ms', [per_point['mock-fast']]),
        row('PyMoDAQ Mock plugins (local, default stage)', case, 'ms', [per_point['mock']]),
        row('tcpbridge: demo stage + detector processes', case, 'ms', [per_point['bridge']],
            [per_point['bridge'] / per_point['mock-fast']], 'PyMoDAQ Mock plugins (local, 1 ms stage)')]}

if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--one', choices=['bridge', 'mock', 'mock-fast'])
    parser.add_argument('--out', default=tempfile.gettempdir())
    parser.add_argument('--profile', choices=['bridge', 'mock', 'mock-fast'])
    args = parser.parse_args()
    if args.profile:
        import cProfile
        import pstats
        profile = cProfile.Profile()
        seconds = profile.runcall(run_one, args.profile, Path(args.out))
        print(f'{seconds * 1000:.1f} ms per point')
        pstats.Stats(profile).sort_stats('cumulative').print_stats(40)
    elif args.one:
        print(json.dumps({'seconds_per_point': run_one(args.one, Path(args.out))}))
    else:
        print(json.dumps(main(), indent=2))
