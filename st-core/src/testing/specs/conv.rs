//! Specs of conv2d (stride, padding, dilation, groups, bias), im2col / col2im and 2-d pooling.

use super::{error, f64_input, gen, grad, rand, sample};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::{Conv2dParams, OpId, WindowParams};
use crate::tensor::Tensor;
use crate::testing::reference::{nn as r, RefTensor};
use crate::testing::{Domain, ErrKind, ErrorCase, Gen, GradCase, Input, Sample};

fn cp(stride: usize, padding: usize, dilation: usize, groups: usize) -> Conv2dParams {
    Conv2dParams {
        stride: [stride; 2],
        padding: [padding; 2],
        dilation: [dilation; 2],
        groups,
    }
}

fn wp(
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    pad: f64,
    image: [usize; 2],
) -> WindowParams {
    WindowParams {
        kernel,
        stride,
        padding,
        dilation,
        pad_value: pad,
        image,
    }
}

fn conv_ref(v: &[RefTensor], p: &Conv2dParams) -> Result<RefTensor> {
    let y = r::conv2d(&v[0], &v[1], p)?;
    match v.get(2) {
        None => Ok(y),
        Some(b) => crate::testing::reference::binary::zip(
            &y,
            &b.reshape(&[1, b.numel(), 1, 1])?,
            |a, c| a + c,
        ),
    }
}

fn conv_run(t: &[Tensor], p: Conv2dParams) -> Result<Tensor> {
    t[0].conv2d(&t[1], t.get(2), p)
}

fn pool(op: OpId, x: &Tensor, k: [usize; 2], s: [usize; 2], p: [usize; 2]) -> Result<Tensor> {
    match op {
        OpId::MaxPool2d => x.max_pool2d(k, s, p),
        OpId::AvgPool2d => x.avg_pool2d(k, s, p),
        _ => Err(Error::invalid(
            "testing",
            format!("{op} is not a pooling op"),
        )),
    }
}

type ConvCase = (&'static str, Vec<Input>, Conv2dParams);

fn conv_cases(g: &mut Gen, dt: DType) -> Vec<ConvCase> {
    let d = Domain::Any;
    let mut x = |s: &[usize]| rand(g, s, dt, d);
    vec![
        (
            "basic",
            vec![x(&[2, 3, 5, 5]), x(&[4, 3, 3, 3])],
            cp(1, 0, 1, 1),
        ),
        (
            "stride 2 padding 1",
            vec![x(&[1, 2, 7, 6]), x(&[3, 2, 3, 3])],
            cp(2, 1, 1, 1),
        ),
        (
            "dilation 2",
            vec![x(&[1, 2, 7, 7]), x(&[2, 2, 3, 2])],
            cp(1, 1, 2, 1),
        ),
        (
            "groups 2",
            vec![x(&[2, 4, 5, 5]), x(&[6, 2, 3, 3])],
            cp(1, 1, 1, 2),
        ),
        (
            "depthwise",
            vec![x(&[1, 3, 4, 4]), x(&[3, 1, 3, 3])],
            cp(1, 1, 1, 3),
        ),
        (
            "1x1 kernel",
            vec![x(&[2, 3, 4, 4]), x(&[5, 3, 1, 1])],
            cp(1, 0, 1, 1),
        ),
        (
            "strided input",
            vec![x(&[1, 2, 5, 6]).strided(), x(&[3, 2, 2, 2])],
            cp(1, 0, 1, 1),
        ),
        (
            "transposed weight",
            vec![x(&[1, 2, 5, 5]), x(&[3, 2, 3, 3]).transposed()],
            cp(1, 1, 1, 1),
        ),
        (
            "with bias",
            vec![x(&[1, 2, 4, 4]), x(&[3, 2, 3, 3]), x(&[3])],
            cp(1, 1, 1, 1),
        ),
        (
            "empty batch",
            vec![x(&[0, 3, 5, 5]), x(&[4, 3, 3, 3])],
            cp(1, 0, 1, 1),
        ),
        (
            "larger",
            vec![x(&[2, 8, 12, 12]), x(&[16, 8, 3, 3])],
            cp(1, 1, 1, 1),
        ),
    ]
}

type WinCase = (&'static str, Input, WindowParams);

fn window_cases(op: OpId, g: &mut Gen, dt: DType) -> Vec<WinCase> {
    let d = Domain::Any;
    let ps = [
        (
            "padded, uneven stride",
            [2, 5, 6],
            wp([2, 3], [1, 2], [1, 0], [1, 1], 0.0, [5, 6]),
        ),
        (
            "dilated, pad value -7.5",
            [1, 2, 7],
            wp([3, 3], [2, 2], [1, 1], [2, 2], -7.5, [7, 7]),
        ),
        (
            "plain",
            [1, 3, 4],
            wp([2, 2], [1, 1], [0, 0], [1, 1], 0.0, [4, 4]),
        ),
        (
            "strided layout",
            [1, 2, 4],
            wp([2, 2], [2, 1], [0, 1], [1, 1], 0.0, [4, 5]),
        ),
    ];
    ps.into_iter()
        .enumerate()
        .map(|(i, (name, nc, p))| {
            let shape = if op == OpId::Im2Col {
                vec![nc[0], nc[1], p.image[0], p.image[1]]
            } else {
                let [oh, ow] = p.out_hw();
                vec![nc[0], nc[1] * p.kernel[0] * p.kernel[1], oh * ow]
            };
            let x = rand(g, &shape, dt, d);
            let x = match i {
                3 => x.strided(),
                2 => x.transposed(),
                _ => x,
            };
            (name, x, p)
        })
        .collect()
}

type PoolCase = (&'static str, Input, [usize; 2], [usize; 2], [usize; 2]);

fn pool_cases(g: &mut Gen, dt: DType) -> Vec<PoolCase> {
    let d = Domain::Any;
    let mut x = |s: &[usize]| rand(g, s, dt, d);
    vec![
        ("2x2 stride 2", x(&[2, 3, 6, 6]), [2, 2], [2, 2], [0, 0]),
        (
            "3x3 stride 2 padding 1",
            x(&[1, 2, 7, 7]),
            [3, 3],
            [2, 2],
            [1, 1],
        ),
        (
            "2x3 strided input",
            x(&[1, 2, 5, 6]).strided(),
            [2, 3],
            [1, 2],
            [1, 1],
        ),
        (
            "transposed input",
            x(&[1, 1, 5, 4]).transposed(),
            [2, 2],
            [1, 1],
            [0, 0],
        ),
        ("empty batch", x(&[0, 2, 4, 4]), [2, 2], [2, 2], [0, 0]),
    ]
}

/// Forward cases.
pub(crate) fn samples(op: OpId, dt: DType) -> Result<Vec<Sample>> {
    let mut g = gen(op, dt, "fwd");
    Ok(match op {
        OpId::Conv2d => conv_cases(&mut g, dt)
            .into_iter()
            .map(|(name, ins, p)| {
                sample(
                    name,
                    ins,
                    dt,
                    move |t| conv_run(t, p),
                    move |v| conv_ref(v, &p),
                )
            })
            .collect(),
        OpId::Im2Col | OpId::Col2Im => window_cases(op, &mut g, dt)
            .into_iter()
            .map(|(name, x, p)| {
                let run = move |t: &[Tensor]| {
                    if op == OpId::Im2Col {
                        t[0].im2col(p)
                    } else {
                        t[0].col2im(p)
                    }
                };
                let rf = move |v: &[RefTensor]| {
                    if op == OpId::Im2Col {
                        r::im2col(&v[0], &p)
                    } else {
                        r::col2im(&v[0], &p)
                    }
                };
                sample(name, vec![x], dt, run, rf)
            })
            .collect(),
        _ => pool_cases(&mut g, dt)
            .into_iter()
            .map(|(name, x, k, s, p)| {
                let max = op == OpId::MaxPool2d;
                sample(
                    name,
                    vec![x],
                    dt,
                    move |t| pool(op, &t[0], k, s, p),
                    move |v| r::pool2d(&v[0], max, k, s, p),
                )
            })
            .collect(),
    })
}

/// Error inputs.
pub(crate) fn errors(op: OpId) -> Result<Vec<ErrorCase>> {
    let mut g = gen(op, DType::F32, "err");
    let mut f = |s: &[usize], dt: DType| rand(&mut g, s, dt, Domain::Any);
    let f32 = DType::F32;
    Ok(match op {
        OpId::Conv2d => {
            let c = |t: &[Tensor]| conv_run(t, cp(1, 0, 1, 1));
            vec![
                error(
                    "3 channels vs weight for 2",
                    vec![f(&[1, 3, 5, 5], f32), f(&[4, 2, 3, 3], f32)],
                    ErrKind::ShapeMismatch,
                    c,
                ),
                error(
                    "3-d input",
                    vec![f(&[3, 5, 5], f32), f(&[4, 3, 3, 3], f32)],
                    ErrKind::ShapeMismatch,
                    c,
                ),
                error(
                    "kernel larger than input",
                    vec![f(&[1, 1, 2, 2], f32), f(&[1, 1, 3, 3], f32)],
                    ErrKind::ShapeMismatch,
                    c,
                ),
                error(
                    "integer input",
                    vec![f(&[1, 1, 3, 3], DType::I64), f(&[1, 1, 2, 2], DType::I64)],
                    ErrKind::DTypeMismatch,
                    c,
                ),
                error(
                    "bias of the wrong size",
                    vec![f(&[1, 1, 3, 3], f32), f(&[2, 1, 2, 2], f32), f(&[3], f32)],
                    ErrKind::ShapeMismatch,
                    c,
                ),
            ]
        }
        OpId::Im2Col => {
            let p = wp([2, 2], [1, 1], [0, 0], [1, 1], 0.0, [4, 4]);
            vec![
                error(
                    "image 5x4 for params 4x4",
                    vec![f(&[1, 1, 5, 4], f32)],
                    ErrKind::InvalidShape,
                    move |t| t[0].im2col(p),
                ),
                error(
                    "3-d input",
                    vec![f(&[1, 4, 4], f32)],
                    ErrKind::InvalidShape,
                    move |t| t[0].im2col(p),
                ),
                error(
                    "stride 0",
                    vec![f(&[1, 1, 4, 4], f32)],
                    ErrKind::InvalidArgument,
                    move |t| {
                        t[0].im2col(WindowParams {
                            stride: [0, 1],
                            ..p
                        })
                    },
                ),
            ]
        }
        OpId::Col2Im => {
            let p = wp([2, 2], [1, 1], [0, 0], [1, 1], 0.0, [4, 4]);
            vec![
                error(
                    "8 columns instead of 9",
                    vec![f(&[1, 4, 8], f32)],
                    ErrKind::InvalidShape,
                    move |t| t[0].col2im(p),
                ),
                error(
                    "rows not a multiple of 4",
                    vec![f(&[1, 6, 9], f32)],
                    ErrKind::InvalidShape,
                    move |t| t[0].col2im(p),
                ),
            ]
        }
        _ => vec![
            error(
                "3-d input",
                vec![f(&[2, 4, 4], f32)],
                ErrKind::InvalidShape,
                move |t| pool(op, &t[0], [2, 2], [2, 2], [0, 0]),
            ),
            error(
                "padding over half the kernel",
                vec![f(&[1, 1, 4, 4], f32)],
                ErrKind::InvalidArgument,
                move |t| pool(op, &t[0], [2, 2], [1, 1], [2, 2]),
            ),
        ],
    })
}

/// Gradient checks.
pub(crate) fn grads(op: OpId) -> Result<Vec<GradCase>> {
    let mut g = gen(op, DType::F64, "grad");
    let mut x = |s: &[usize]| f64_input(&mut g, s, Domain::Any);
    Ok(match op {
        OpId::Conv2d => vec![
            grad(
                "stride 2 padding 1",
                vec![x(&[1, 2, 5, 5]), x(&[3, 2, 3, 3])],
                &[0, 1],
                |t| conv_run(t, cp(2, 1, 1, 1)),
            ),
            grad(
                "groups 2 dilation 2",
                vec![x(&[2, 4, 5, 5]), x(&[2, 2, 2, 2])],
                &[0, 1],
                |t| conv_run(t, cp(1, 1, 2, 2)),
            ),
            grad(
                "with bias",
                vec![x(&[1, 1, 4, 4]), x(&[2, 1, 2, 2]), x(&[2])],
                &[0, 1, 2],
                |t| conv_run(t, cp(1, 0, 1, 1)),
            ),
        ],
        OpId::Im2Col => {
            let p = wp([2, 3], [1, 2], [1, 1], [1, 1], 0.0, [4, 5]);
            vec![grad("padded", vec![x(&[1, 2, 4, 5])], &[0], move |t| {
                t[0].im2col(p)
            })]
        }
        OpId::Col2Im => {
            let p = wp([2, 2], [1, 1], [1, 0], [1, 1], 0.0, [3, 4]);
            let [oh, ow] = p.out_hw();
            vec![grad("padded", vec![x(&[1, 8, oh * ow])], &[0], move |t| {
                t[0].col2im(p)
            })]
        }
        _ => vec![
            grad(
                "3x3 stride 2 padding 1",
                vec![x(&[1, 2, 5, 5])],
                &[0],
                move |t| pool(op, &t[0], [3, 3], [2, 2], [1, 1]),
            ),
            grad(
                "2x2 transposed",
                vec![x(&[2, 1, 4, 4]).transposed()],
                &[0],
                move |t| pool(op, &t[0], [2, 2], [2, 2], [0, 0]),
            ),
        ],
    })
}
