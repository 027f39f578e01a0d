*** Settings ***
Documentation     The MLPerf Tiny host-DUT exchange, line by line, as the MLCommons runner drives it:
...               `%`-terminated commands, `\r\n` lines, every answer ending in m-ready
...               (shared/reference/mlperf_tiny_protocol.md).
Resource          harness.resource
Suite Setup       Build Protocol Firmware
Test Teardown     Reset Emulation


*** Variables ***
${BOARD}          nucleo_f446re


*** Test Cases ***
Boot Banner
    Create Board Machine    ${BOARD}    ${ELF}
    Start Emulation
    Wait For Line On Uart    m-timestamp-mode-performance    matchNextLine=true
    Wait For Line On Uart    ^m-lap-us-\\d+$    treatAsRegex=true    matchNextLine=true
    Wait For Line On Uart    m-init-done    matchNextLine=true
    Wait For Line On Uart    m-ready    matchNextLine=true

Name And Profile
    Boot Board    ${BOARD}    ${ELF}
    Send Command    name
    Wait For Line On Uart    m-name-dut-[tinyml-harness NUCLEO-F446RE]
    Wait For Line On Uart    m-ready
    Send Command    profile
    Wait For Line On Uart    m-profile-[ULPMark for tinyML Firmware V0.0.1]
    ${answer}=    Wait For Line On Uart    ^m-model-\\[(.+)\\]$    treatAsRegex=true
    Should Be Equal    ${answer.groups}[0]    ${MODEL}
    Wait For Line On Uart    m-ready

Download And Infer
    Boot Board    ${BOARD}    ${ELF}
    @{commands}=    Input Download    ${MODEL}
    ${load}=    Set Variable    ${commands}[0]
    ${bytes}=    Evaluate    int($load.split()[2])
    Send Command    ${load}
    Wait For Line On Uart    m-[Expecting ${bytes} bytes]    matchNextLine=true
    Wait For Line On Uart    m-ready    matchNextLine=true
    FOR    ${chunk}    IN    @{commands}[1:]
        Send Command    ${chunk}
        Wait For Line On Uart    m-ready
    END
    Send Command    infer 3 1
    Wait For Line On Uart    m-warmup-start-1    matchNextLine=true
    Wait For Line On Uart    m-warmup-done    matchNextLine=true
    Wait For Line On Uart    m-infer-start-3    matchNextLine=true
    ${t0}=    Wait For Line On Uart    ^m-lap-us-(\\d+)$    treatAsRegex=true    matchNextLine=true
    ${t1}=    Wait For Line On Uart    ^m-lap-us-(\\d+)$    treatAsRegex=true    matchNextLine=true
    Should Be True    ${t1.groups}[0] >= ${t0.groups}[0]
    Wait For Line On Uart    m-infer-done    matchNextLine=true
    Wait For Line On Uart    ^m-results-\\[[-0-9.,]+\\]$    treatAsRegex=true    matchNextLine=true
    Wait For Line On Uart    ^m-results-raw-\\[[0-9a-f]+\\]$    treatAsRegex=true    matchNextLine=true
    Wait For Line On Uart    m-ready    matchNextLine=true

Errors Are Answered And End With m-ready
    Boot Board    ${BOARD}    ${ELF}
    Send Command    bogus
    Wait For Line On Uart    e-[Unknown command: bogus]    matchNextLine=true
    Wait For Line On Uart    m-ready    matchNextLine=true
    Send Command    infer 0
    Wait For Line On Uart    e-[Inference iterations must be >0]
    Wait For Line On Uart    m-ready
    Send Command    db load 0
    Wait For Line On Uart    e-[Command 'db load' must be >0 bytes]
    Wait For Line On Uart    m-ready


*** Keywords ***
Build Protocol Firmware
    ${model}=    Small Model
    ${elf}=    Build Firmware    ${model}    ${BOARD}
    Set Suite Variable    ${MODEL}    ${model}
    Set Suite Variable    ${ELF}    ${elf}
