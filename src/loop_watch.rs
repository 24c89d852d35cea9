//! Watches the core's loop poller on Node's own event loop (a libuv `uv_poll`), so that a
//! worker's message wakes the JavaScript thread directly instead of waking the I/O thread,
//! which would then have to wake the JavaScript thread: one cross-thread hop less per
//! message. What is read is handed to JavaScript right there, with `napi_make_callback`
//! (so `process.nextTick` callbacks run after it, as after any I/O callback in Node).
//! libuv is part of Node's ABI for addons; its symbols resolve against the `node` binary
//! when the addon is loaded, like the `napi_*` ones.

use crate::delivery::{Cell, Pending};
use napi::bindgen_prelude::{Function, JsValue, ToNapiValue};
use napi::{sys, Env};
use rust_cluster_core::Primary;
use std::cell::{Cell as Flag, RefCell};
use std::ffi::{c_int, c_void};
use std::sync::Arc;

/// `uv_handle_type::UV_POLL` (uv.h: UNKNOWN, ASYNC, CHECK, FS_EVENT, FS_POLL, HANDLE, IDLE,
/// NAMED_PIPE, POLL).
const UV_POLL: c_int = 8;
const UV_READABLE: c_int = 1;

type PollCallback = unsafe extern "C" fn(handle: *mut c_void, status: c_int, events: c_int);
type CloseCallback = unsafe extern "C" fn(handle: *mut c_void);

extern "C" {
    fn uv_handle_size(kind: c_int) -> usize;
    fn uv_poll_init(event_loop: *mut sys::uv_loop_s, handle: *mut c_void, fd: c_int) -> c_int;
    fn uv_poll_start(handle: *mut c_void, events: c_int, callback: PollCallback) -> c_int;
    fn uv_poll_stop(handle: *mut c_void) -> c_int;
    fn uv_unref(handle: *mut c_void);
    fn uv_close(handle: *mut c_void, callback: CloseCallback);
}

/// What the poll handle's `data` points at.
struct Watch {
    /// Given up when the watch closes, so the primary can be freed before libuv has
    /// finished closing the handle.
    primary: RefCell<Option<Primary>>,
    closed: Flag<bool>,
    pending: Arc<Pending>,
    env: sys::napi_env,
    /// The facade's event function, and the async context its calls run in.
    callback: sys::napi_ref,
    async_context: sys::napi_async_context,
    /// Backing memory of the `uv_poll_t` (u64s for alignment); freed after `uv_close`.
    handle: Vec<u64>,
    cleanup: sys::napi_async_cleanup_hook_handle,
}

/// A running watch; `close` ends it.
pub struct LoopWatch(*mut Watch);

/// Starts servicing the core's loop poller on `env`'s event loop, delivering to
/// `on_events`. The handle is unref'd (the facade decides the loop's lifetime, as Node's
/// ChildProcess handles do) and closed by `LoopWatch::close`, or when the environment is
/// torn down (a worker thread ending).
pub fn watch(
    env: &Env,
    on_events: &Function<Vec<Cell>, ()>,
    primary: Primary,
    pending: Arc<Pending>,
) -> Result<LoopWatch, String> {
    let env = env.raw();
    let fd = primary.loop_poller_fd();
    let mut event_loop = std::ptr::null_mut();
    let mut callback = std::ptr::null_mut();
    let mut async_context = std::ptr::null_mut();
    // SAFETY: called from a napi callback, so `env` is live and a handle scope is open;
    // every out-pointer is a local.
    unsafe {
        let mut name = std::ptr::null_mut();
        let ok = sys::napi_get_uv_event_loop(env, &mut event_loop) == sys::Status::napi_ok
            && sys::napi_create_reference(env, on_events.raw(), 1, &mut callback)
                == sys::Status::napi_ok
            && sys::napi_create_string_utf8(env, c"RustClusterChannel".as_ptr(), 18, &mut name)
                == sys::Status::napi_ok
            && sys::napi_async_init(env, std::ptr::null_mut(), name, &mut async_context)
                == sys::Status::napi_ok;
        if !ok {
            return Err("cannot watch the event loop".into());
        }
    }
    // SAFETY: a plain size query.
    let size = unsafe { uv_handle_size(UV_POLL) };
    let watch = Box::into_raw(Box::new(Watch {
        primary: RefCell::new(Some(primary)),
        closed: Flag::new(false),
        pending,
        env,
        callback,
        async_context,
        handle: vec![0u64; size.div_ceil(8)],
        cleanup: std::ptr::null_mut(),
    }));
    // SAFETY: `watch` is a live Box; the handle memory is zeroed, large enough for a
    // uv_poll_t (libuv says how large), 8-byte aligned, and outlives the handle (freed only
    // in `on_closed`). `data` is the first field of every libuv handle. All calls happen on
    // the loop's own thread.
    unsafe {
        let handle = (*watch).handle.as_mut_ptr().cast::<c_void>();
        let status = uv_poll_init(event_loop, handle, fd);
        if status != 0 {
            drop(Box::from_raw(watch));
            return Err(format!("uv_poll_init failed ({status})"));
        }
        *handle.cast::<*mut c_void>() = watch.cast();
        uv_poll_start(handle, UV_READABLE, on_readable);
        uv_unref(handle);
        sys::napi_add_async_cleanup_hook(
            env,
            Some(on_teardown),
            watch.cast(),
            &mut (*watch).cleanup,
        );
    }
    Ok(LoopWatch(watch))
}

impl LoopWatch {
    /// Stops watching, gives up the primary, and releases the function reference and the
    /// async context (so nothing of the watch looks like an open handle any more); the
    /// handle's memory goes once libuv has closed it. Called on the loop's thread from a
    /// napi call or the environment's cleanup, never from the watch's own callback.
    pub fn close(self) {
        // SAFETY: the Watch lives until `on_closed`, which cannot have run: only `close`
        // and `on_teardown` start closing, and both do it once (`closed`). `env`,
        // `callback` and `async_context` were created for this env, which is still live.
        unsafe {
            let watch = &*self.0;
            if watch.closed.replace(true) {
                return;
            }
            sys::napi_delete_reference(watch.env, watch.callback);
            sys::napi_async_destroy(watch.env, watch.async_context);
            stop_and_close(self.0);
        }
    }
}

/// Stops the poll, drops the watch's primary and closes the handle (freed in `on_closed`).
///
/// # Safety
/// `watch` is live and its handle is not closing yet; on the loop's thread.
unsafe fn stop_and_close(watch: *mut Watch) {
    // SAFETY: as the caller promises.
    unsafe {
        (*watch).primary.borrow_mut().take();
        let handle = (*watch).handle.as_mut_ptr().cast::<c_void>();
        uv_poll_stop(handle);
        uv_close(handle, on_closed);
    }
}

unsafe extern "C" fn on_readable(handle: *mut c_void, _status: c_int, _events: c_int) {
    // SAFETY: `data` was set to a live `Watch` before the poll started, and the Watch is
    // only freed after the handle is closed, when libuv calls nothing more on it.
    let watch = unsafe { &*(*handle.cast::<*const Watch>()) };
    // Never unwind into libuv.
    let serviced = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if let Some(primary) = watch.primary.borrow().as_ref() {
            primary.service_loop();
        }
        watch.pending.take_cells()
    }));
    match serviced {
        Ok(cells) if !cells.is_empty() => call_js(watch, cells),
        Ok(_) => {}
        Err(_) => eprintln!("rust-cluster: internal error while reading worker channels"),
    }
}

/// Calls the facade's event function as Node calls any I/O callback: in a handle scope and
/// an async context, with an exception thrown by it reported as uncaught.
fn call_js(watch: &Watch, cells: Vec<Cell>) {
    let env = watch.env;
    // SAFETY: we are on the JavaScript thread, in a libuv callback (no JavaScript on the
    // stack), so opening a handle scope is allowed; `callback` and `async_context` were
    // created for this env and are never released while the watch lives.
    unsafe {
        let mut scope = std::ptr::null_mut();
        if sys::napi_open_handle_scope(env, &mut scope) != sys::Status::napi_ok {
            return;
        }
        let mut func = std::ptr::null_mut();
        let mut global = std::ptr::null_mut();
        let mut result = std::ptr::null_mut();
        if sys::napi_get_reference_value(env, watch.callback, &mut func) == sys::Status::napi_ok
            && sys::napi_get_global(env, &mut global) == sys::Status::napi_ok
        {
            if let Ok(batch) = Vec::<Cell>::to_napi_value(env, cells) {
                let status = sys::napi_make_callback(
                    env,
                    watch.async_context,
                    global,
                    func,
                    1,
                    &batch,
                    &mut result,
                );
                if status == sys::Status::napi_pending_exception {
                    let mut error = std::ptr::null_mut();
                    sys::napi_get_and_clear_last_exception(env, &mut error);
                    sys::napi_fatal_exception(env, error);
                }
            }
        }
        sys::napi_close_handle_scope(env, scope);
    }
}

unsafe extern "C" fn on_teardown(_hook: sys::napi_async_cleanup_hook_handle, data: *mut c_void) {
    let watch = data.cast::<Watch>();
    // SAFETY: `data` is the Watch registered with this hook, live until `on_closed` (which
    // also removes this hook); we are on the loop's thread. A watch `close` already started
    // closing is left to finish: its `on_closed` tells Node this hook is done.
    unsafe {
        if !(*watch).closed.replace(true) {
            stop_and_close(watch);
        }
    }
}

unsafe extern "C" fn on_closed(handle: *mut c_void) {
    // SAFETY: libuv is done with the handle; `data` still points at its Watch, which owns
    // the handle's memory and is freed exactly once, here.
    unsafe {
        let watch = Box::from_raw(*handle.cast::<*mut Watch>());
        sys::napi_remove_async_cleanup_hook(watch.cleanup);
    }
}
