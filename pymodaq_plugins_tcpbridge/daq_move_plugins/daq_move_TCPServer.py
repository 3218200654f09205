from pymodaq.control_modules.move_utility_classes import main

from pymodaq_plugins_tcpbridge.actuator import DAQ_Move_TCPServer_base


class DAQ_Move_TCPServer(DAQ_Move_TCPServer_base):
    """Actuator on a distant computer, connected over TCP/IP as an ACTUATOR client.

    The plugin listens on socket_ip:port_id (127.0.0.1:6341 by default); the remote program
    (tcpbridge ActuatorClient, a PyMoDAQ 3.x/4.x DAQ_Move, LabVIEW...) connects, answers
    move_abs / move_rel / move_home with move_done and check_position with position_is, in the
    legacy or the PyMoDAQ 4 dialect.
    """


if __name__ == '__main__':
    main(__file__, init=False)
