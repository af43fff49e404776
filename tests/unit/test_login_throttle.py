"""The sign-in throttle's window: failures age out, and the wait it announces is exact."""

from api.throttle import LoginThrottle


def test_a_locked_account_may_try_again_once_its_failures_leave_the_window() -> None:
    now = [1000.0]
    throttle = LoginThrottle(per_account=3, per_address=100, window_s=60, clock=lambda: now[0])
    for step in range(3):
        now[0] = 1000.0 + step * 10  # failures at 1000, 1010, 1020
        assert throttle.retry_after("Wang", "10.1.1.1") == 0
        throttle.failed("Wang", "10.1.1.1")
    assert throttle.retry_after("wang ", "10.1.1.2") == 40  # same account, any address
    now[0] = 1059.5
    assert throttle.retry_after("wang", "10.1.1.2") == 1
    now[0] = 1060.0  # the first failure left the window: one more try
    assert throttle.retry_after("wang", "10.1.1.2") == 0
    throttle.failed("wang", "10.1.1.2")
    assert throttle.retry_after("wang", "10.1.1.2") == 10  # until 1010 leaves


def test_a_success_forgets_the_accounts_failures_not_the_addresses() -> None:
    now = [0.0]
    throttle = LoginThrottle(per_account=2, per_address=3, window_s=60, clock=lambda: now[0])
    throttle.failed("li", "10.0.0.9")
    throttle.failed("li", "10.0.0.9")
    assert throttle.retry_after("li", "10.0.0.8") == 60
    throttle.succeeded("li")
    assert throttle.retry_after("li", "10.0.0.8") == 0
    throttle.failed("zhao", "10.0.0.9")  # the address's third failure
    assert throttle.retry_after("chen", "10.0.0.9") == 60
