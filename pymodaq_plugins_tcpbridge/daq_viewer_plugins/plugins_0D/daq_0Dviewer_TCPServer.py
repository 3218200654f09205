from pymodaq.control_modules.viewer_utility_classes import main

from pymodaq_plugins_tcpbridge.viewer import DAQ_xDViewer_TCPServer


class DAQ_0DViewer_TCPServer(DAQ_xDViewer_TCPServer):
    """0D detector on a distant computer, connected over TCP/IP as a GRABBER client.

    The plugin listens on socket_ip:port_id (127.0.0.1:6341 by default); the remote program
    (tcpbridge GrabberClient, a PyMoDAQ 3.x/4.x DAQ_Viewer, LabVIEW...) connects and answers
    'Send Data 0D' with its data, in the legacy or the PyMoDAQ 4 dialect.
    """

    grabber_type = '0D'


if __name__ == '__main__':
    main(__file__, init=False)
