*** Settings ***
Documentation     Faults on the emulated board end a wait at once with the engine's report (the verdict, the
...               PC and its symbol, the console tail); the firmware's own fault banner is a registered
...               failing string; a hang runs out of virtual time. Firmware: tests/firmware/engine_probe.c.
Resource          harness.resource
Suite Setup       Build Probe
Test Setup        Boot Probe
Test Teardown     Reset Emulation


*** Variables ***
${BOARD}          nucleo_f446re


*** Test Cases ***
Probe Answers
    Write Line To Uart    ping    waitForEcho=false
    Wait For Line On Uart    pong

Write Past The End Of RAM Is A Fault
    Write Line To Uart    fault ram-write    waitForEcho=false
    Run Keyword And Expect Error    *FAULT write to unmapped address*cmd_fault*    Wait For Line On Uart    pong

Write To Flash Is A Fault
    Write Line To Uart    fault flash-write    waitForEcho=false
    Run Keyword And Expect Error    *FAULT write to read-only flash at*    Wait For Line On Uart    pong

Reaching The HardFault Handler Is A Fault
    Write Line To Uart    fault handler    waitForEcho=false
    Run Keyword And Expect Error    *HardFault handler*    Wait For Line On Uart    pong

Fault Banner Fails The Wait At Once
    Write Line To Uart    echo e-[fault HardFault]    waitForEcho=false
    Run Keyword And Expect Error    *Test failing entry has been found on UART:*fault HardFault*
    ...    Wait For Line On Uart    pong

A Hang Runs Out Of Virtual Time
    Write Line To Uart    spin    waitForEcho=false
    Run Keyword And Expect Error    *pong* did not appear * within 0.05 s of virtual time*
    ...    Wait For Line On Uart    pong    timeout=0.05

Waiting For Input Ends The Wait
    Run Keyword And Expect Error    *the firmware waits for input*    Wait For Line On Uart    pong

Nothing Unexpected On The Console
    Write Line To Uart    ping    waitForEcho=false
    Should Not Be On Uart    FAULT    timeout=0.1


*** Keywords ***
Build Probe
    ${elf}=    Build Firmware    ${CURDIR}/../tests/firmware/engine_probe.c    ${BOARD}
    Set Suite Variable    ${ELF}    ${elf}

Boot Probe
    Create Board Machine    ${BOARD}    ${ELF}
    Start Emulation
    Wait For Line On Uart    engine_probe ${BOARD} ready
