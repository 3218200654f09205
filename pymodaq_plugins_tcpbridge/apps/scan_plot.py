"""The PNG of ``tcpbridge scan --plot``: the scan read back from its HDF5 file with PyMoDAQ's loader."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QApplication

from .scan_check import PeakFit, ScanResult
from .scan_options import ScanOptions


def plot(result: ScanResult, options: ScanOptions, path: Path, fit: Optional[PeakFit] = None) -> None:
    """A PNG for the lab notebook, read back from the HDF5 file with PyMoDAQ's DataLoader (the axes,
    labels and units it saved): the map of the scan (stage position x detector channel for a 1D
    detector, stage x stage for a 2D scan) with its colour bar, and the integrated signal against the
    stage with ``fit`` (the demo's gaussian fitted to it, 1D scans) drawn over it; on white, axes with
    units (an index axis of legacy data says it is one), a title that says what was measured.
    pyqtgraph offscreen, 1400x600."""
    import pyqtgraph as pg
    from pymodaq_data.h5modules.data_saving import DataLoader
    from pyqtgraph.exporters import ImageExporter

    from ..convert import INDEX_AXES  # the names of the index axes given to legacy data (no axes)

    pg.setConfigOptions(background='w', foreground='k', antialias=True)
    loader = DataLoader(result.path)
    try:
        saved = loader.load_data(f'/RawData/Scan000/Detector000/Data{options.dim}/CH00/Data00')
        nav_axes = sorted(saved.get_nav_axes(), key=lambda axis: axis.index)
        sig_axes = [saved.get_axis_from_index(i)[0] for i in saved.sig_indexes] if options.dim == '1D' else []
    finally:
        loader.close_file()
    array = np.asarray(saved.data[0], dtype=float)
    units = saved.units  # PyMoDAQ 5.3 does not save them: then the curve says 'arb. units'
    summed = f'summed over the {options.dim} data' if options.dim != '0D' else ''
    view = pg.GraphicsLayoutWidget()
    view.resize(1400, 600)
    font = {'font-size': '13pt', 'color': 'k'}
    what = {'0D': 'value', '1D': 'spectrum', '2D': 'image'}[options.dim]
    stages = 'two remote stages' if options.scan == '2D' else 'a remote stage'
    title = (f'Remote detector ({what} per point) scanned over {stages}: '
             f'{result.points} points, {options.dialect} dialect')
    view.addLabel(title, row=0, col=0, colspan=2, size='14pt')

    def label(plot_item, side: str, axis_label: str, axis_units: str) -> None:
        if any(axis_label in names for names in INDEX_AXES.values()) and not axis_units:
            text = f'{axis_label} index'
        else:
            text = axis_label if axis_units else f'{axis_label} (arb. units)'
        plot_item.setLabel(side, text, units=axis_units or None, **font)
        if not axis_units:  # pyqtgraph would scale unitless values by a power of 1000
            plot_item.getAxis(side).enableAutoSIPrefix(False)

    def colour_bar(image, plot_item, values: np.ndarray) -> None:
        bar = pg.ColorBarItem(values=(float(np.nanmin(values)), float(np.nanmax(values))),
                              colorMap=pg.colormap.get('viridis'), interactive=False, label=f'signal {units}'.strip())
        bar.setImageItem(image, insert_in=plot_item)

    def pixel_rect(x: np.ndarray, y: np.ndarray) -> tuple:
        """Image rectangle whose pixels are centred on the sample positions."""
        dx = (x[-1] - x[0]) / max(len(x) - 1, 1)
        dy = (y[-1] - y[0]) / max(len(y) - 1, 1)
        return float(x[0] - dx / 2), float(y[0] - dy / 2), float(x[-1] - x[0] + dx), float(y[-1] - y[0] + dy)

    if options.scan == '2D':
        image_plot = view.addPlot(row=1, col=0, title='map: signal ' + summed)
        image = pg.ImageItem(result.signal)
        image.setRect(*pixel_rect(nav_axes[0].get_data(), nav_axes[1].get_data()))
        image.setColorMap(pg.colormap.get('viridis'))
        image_plot.addItem(image)
        colour_bar(image, image_plot, result.signal)
        label(image_plot, 'bottom', nav_axes[0].label, nav_axes[0].units)
        label(image_plot, 'left', nav_axes[1].label, nav_axes[1].units)
        curve_plot = view.addPlot(row=1, col=1, title=f'profile through the maximum, along {nav_axes[0].label}')
        row = int(np.argmax(result.signal.max(axis=0)))
        curve_plot.plot(nav_axes[0].get_data(), result.signal[:, row], pen=pg.mkPen('b', width=2), symbol='o',
                        symbolBrush='b')
        label(curve_plot, 'bottom', nav_axes[0].label, nav_axes[0].units)
        label(curve_plot, 'left', f'signal {summed}'.strip(), units)
    else:
        stage = nav_axes[0]
        positions = stage.get_data()
        if options.dim == '1D':
            map_plot = view.addPlot(row=1, col=0, title='map: spectrum at each stage position')
            image = pg.ImageItem(array)
            channel = sig_axes[0] if sig_axes else None
            channels = channel.get_data() if channel is not None else np.arange(array.shape[1])
            image.setRect(*pixel_rect(positions, channels))
            image.setColorMap(pg.colormap.get('viridis'))
            map_plot.addItem(image)
            colour_bar(image, map_plot, array)
            label(map_plot, 'bottom', stage.label, stage.units)
            label(map_plot, 'left', (channel.label if channel is not None else '') or 'channel',
                  channel.units if channel is not None else '')
        curve_plot = view.addPlot(row=1, col=1 if options.dim == '1D' else 0,
                                  title=f'signal {summed}'.strip() + ' vs stage position')
        curve_plot.addLegend(offset=(-10, 10))
        curve_plot.plot(positions, result.signal, pen=pg.mkPen('b', width=2), symbol='o', symbolBrush='b',
                        name='measured')
        if fit is not None:
            x, y = fit.curve(positions, result.signal, options.peak_width)
            curve_plot.plot(x, y, pen=pg.mkPen('r', width=2, style=Qt.PenStyle.DashLine),
                            name=f'gaussian fit, centre {fit.centre[0]:.3f} mm')
        curve_plot.showGrid(x=True, y=True, alpha=0.3)
        label(curve_plot, 'bottom', stage.label, stage.units)
        label(curve_plot, 'left', f'signal {summed}'.strip(), units)
    view.ci.layout.setContentsMargins(20, 20, 20, 20)
    view.show()  # offscreen: lays the plots out at the widget's size and applies the auto ranges
    QApplication.processEvents()
    ImageExporter(view.scene()).export(str(path))
    view.close()
