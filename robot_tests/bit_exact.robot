*** Settings ***
Documentation     Zoo models on the emulated boards: the output tensor's bytes equal the TFLM interpreter's
...               for seeded random inputs, sent over the MLPerf Tiny protocol. A model whose file is not on
...               this machine is skipped. (Every cell: `pytest tests/test_zoo.py --zoo=full`.)
Resource          harness.resource
Test Template     Model Should Run Bit-Exact On Board
Test Teardown     Reset Emulation


*** Test Cases ***                      MODEL             BOARD
KWS MicroNet-S on NUCLEO-F746ZG         kws_micronet_s    nucleo_f746zg
DS-CNN-S on NUCLEO-F446RE               ds_cnn_s          nucleo_f446re
Person detection on NUCLEO-F767ZI       person_detect     nucleo_f767zi
AD FC autoencoder on NUCLEO-F446RE      ad01_int8         nucleo_f446re
Generated AD model on NUCLEO-F767ZI     gen_ad_fc_s       nucleo_f767zi


*** Keywords ***
Model Should Run Bit-Exact On Board
    [Arguments]    ${model}    ${board}
    ${elf}=    Build Firmware    ${model}    ${board}
    Boot Board    ${board}    ${elf}
    Output Should Match TFLM    ${model}    inputs=2
