*** Settings ***
Documentation     Smoke run on NUCLEO-F746ZG: boot, name, the small model bit-exact with TFLM, its cycles and latency.
Resource          ../harness.resource
Suite Setup       Build Smoke Firmware
Test Teardown     Reset Emulation


*** Variables ***
${BOARD}          nucleo_f746zg
${TITLE}          NUCLEO-F746ZG


*** Test Cases ***
Boots And Names Itself
    Boot Board    ${BOARD}    ${ELF}
    Send Command    name
    ${name}=    Wait For Line On Uart    m-name-dut-\\[tinyml-harness (.+)\\]    treatAsRegex=true
    Should Be Equal    ${name.groups}[0]    ${TITLE}
    Wait For Line On Uart    m-ready

Runs The Small Model Bit-Exact
    Boot Board    ${BOARD}    ${ELF}
    Output Should Match TFLM    ${MODEL}    inputs=3
    Cycles Should Be Below    10M
    Latency Should Be Below    50 ms


*** Keywords ***
Build Smoke Firmware
    ${model}=    Small Model
    ${elf}=    Build Firmware    ${model}    ${BOARD}
    Set Suite Variable    ${MODEL}    ${model}
    Set Suite Variable    ${ELF}    ${elf}
